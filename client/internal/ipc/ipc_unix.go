//go:build unix

package ipc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func dial(ctx context.Context, path string) (net.Conn, error) {
	uid := os.Getuid()
	if err := verifyServerPath(path, uid); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	// The path checks leave no window for another user to swap the
	// socket (the directory is ours and 0700), but the peer's credentials
	// are what the kernel says about the process actually listening, so
	// they are the check that cannot be fooled by a file planted earlier.
	peer, err := peerUID(c)
	switch {
	case errors.Is(err, errNoPeerCred):
		// The BSDs: the directory and socket ownership above are the guard.
	case err != nil:
		c.Close()
		return nil, fmt.Errorf("%w: cannot identify the process serving %s: %v", ErrUntrustedAgent, path, err)
	case peer != uid:
		c.Close()
		return nil, fmt.Errorf("%w: %s is served by a process of uid %d, not by you (uid %d); another user may be impersonating the agent: stop it, remove %s, and start your agent again",
			ErrUntrustedAgent, path, peer, uid, filepath.Dir(path))
	}
	return c, nil
}

// verifyServerPath checks, before connecting, that the socket directory is
// a real directory (not a symlink) owned by uid with mode 0700, and that the
// socket in it is owned by uid. A directory planted in a shared /tmp by
// another user fails here. A missing directory or socket is returned as
// fs.ErrNotExist (the agent is simply not running).
func verifyServerPath(path string, uid int) error {
	// Nothing there: the agent is not running, and nobody is
	// impersonating it either, whatever the directory looks like.
	si, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check agent socket %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check socket directory %s: %w", dir, err)
	}
	const fix = "remove it and start your agent again"
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: socket directory %s is a symbolic link; %s", ErrUntrustedAgent, dir, fix)
	case !fi.IsDir():
		return fmt.Errorf("%w: socket directory %s is not a directory; %s", ErrUntrustedAgent, dir, fix)
	case fileUID(fi) != uid:
		return fmt.Errorf("%w: socket directory %s belongs to uid %d, not to you (uid %d); another user may be impersonating the agent: %s",
			ErrUntrustedAgent, dir, fileUID(fi), uid, fix)
	case fi.Mode().Perm() != 0o700:
		return fmt.Errorf("%w: socket directory %s has mode %04o, want 0700 (others could replace the socket); %s",
			ErrUntrustedAgent, dir, fi.Mode().Perm(), fix)
	}
	switch {
	case si.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%w: %s is not a socket; %s", ErrUntrustedAgent, path, fix)
	case fileUID(si) != uid:
		return fmt.Errorf("%w: socket %s belongs to uid %d, not to you (uid %d); another user may be impersonating the agent: %s",
			ErrUntrustedAgent, path, fileUID(si), uid, fix)
	}
	return nil
}

// fileUID returns the owner of fi, or -1 if the platform does not say.
func fileUID(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func listen(path string, log *slog.Logger) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The directory is already 0700, so nobody else can reach the socket
	// in the moment before this chmod.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict %s to its owner: %w", path, err)
	}
	return &peerListener{Listener: ln, uid: os.Getuid(), log: log}, nil
}

// ensurePrivateDir creates dir 0700 or checks that an existing one belongs
// to us and tightens its mode, so a directory planted by another user in a
// shared /tmp is refused.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check socket directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory; remove it and start the agent again", dir)
	}
	if uid := fileUID(fi); uid != os.Getuid() {
		return fmt.Errorf("socket directory %s belongs to uid %d, not to you; remove it and start the agent again", dir, uid)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict socket directory %s: %w", dir, err)
		}
	}
	return nil
}

// removeStale deletes a socket no agent answers on. A live one means
// another agent runs: ErrAgentRunning.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; remove it and start the agent again", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: %w", path, ErrAgentRunning)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// peerListener accepts only connections whose peer runs as uid.
type peerListener struct {
	net.Listener
	uid int          // constant after construction
	log *slog.Logger // constant after construction
}

// Accept returns the next connection from the owner, closing (and logging)
// any from another user.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		switch {
		case errors.Is(err, errNoPeerCred):
			// The platform has no peer credentials; the 0700 directory
			// and 0600 socket are the only guard.
			return c, nil
		case err != nil:
			l.log.Warn("local API: refused a connection whose peer could not be identified", "err", err)
			c.Close()
		case uid != l.uid:
			l.log.Warn("local API: refused a connection from another user", "peer_uid", uid)
			c.Close()
		default:
			return c, nil
		}
	}
}

var errNoPeerCred = errors.New("peer credentials not supported on this platform")

func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("connection is %T, not a unix socket", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	uid := -1
	var credErr error
	if err := raw.Control(func(fd uintptr) { uid, credErr = fdPeerUID(int(fd)) }); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	return uid, credErr
}
