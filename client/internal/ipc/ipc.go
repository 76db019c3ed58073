// Package ipc is the agent's per-user local transport: a Unix socket on
// Linux and macOS (directory 0700, socket 0600, and a peer-credential check
// that refuses every other uid), and a named pipe on Windows whose security
// descriptor admits only the current user. The local API runs HTTP over it.
//
// Both ends check each other. The listener refuses callers that are not its
// user; the dialer refuses a server that is not its user before it sends a
// byte, because a fake agent planted by another user on a shared host could
// otherwise show the victim a sign-in code of its choosing.
package ipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// ErrAgentRunning is returned by Listen when another agent already serves
// the socket.
var ErrAgentRunning = errors.New("another Mapdrive agent is already running for this user")

// DefaultPath returns the per-user socket (or pipe) path:
// $XDG_RUNTIME_DIR/mapdrive/agent.sock, else /tmp/mapdrive-<uid>/agent.sock
// on Linux; $TMPDIR/mapdrive/agent.sock on macOS (TMPDIR is per-user there);
// \\.\pipe\mapdrive-agent-<SID> on Windows.
func DefaultPath() (string, error) { return defaultPath() }

// Listen creates the per-user listener at path. It creates the parent
// directory owner-only, removes a stale socket left by a dead agent, and
// refuses connections from other users. log receives one line per refused
// peer; it may be nil.
func Listen(path string, log *slog.Logger) (net.Listener, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return listen(path, log)
}

// ErrUntrustedAgent is returned (wrapped) by Dial when whatever serves path
// is not provably the current user's agent. Test with errors.Is.
var ErrUntrustedAgent = errors.New("refusing to talk to a local agent that does not belong to you")

// Dial connects to the agent at path after verifying that the server runs
// as the current user (Unix: the socket directory is the user's, 0700 and no
// symlink, the socket is the user's, and the peer's credentials are the
// user's; Windows: the pipe server process runs under the user's SID). A
// failed check returns an error wrapping ErrUntrustedAgent; nothing has been
// sent on the connection then.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	return dial(ctx, path)
}

// pipeSecurityDescriptor is the SDDL of the Windows pipe: a protected
// DACL ("D:P", so no ACE is inherited from the pipe file system's default)
// with one ACE allowing generic all ("A;;GA") to the user sid. Nobody else
// is listed, not Administrators, not SYSTEM, so their opens are denied.
// It is a pure function so every OS tests the string; the Windows tests
// also parse it with the system's own SDDL parser.
func pipeSecurityDescriptor(sid string) string { return "D:P(A;;GA;;;" + sid + ")" }

// verifyServerSID is the Windows dialer's decision, kept free of system
// calls so it is tested on every OS: the pipe's server process must run as
// the caller's own user. Anything else, including a server whose SID could
// not be read (empty), is refused.
func verifyServerSID(path, serverSID, mySID string) error {
	if mySID == "" {
		return fmt.Errorf("%w: the current user's SID is unknown, so the server of %s cannot be verified", ErrUntrustedAgent, path)
	}
	if serverSID == "" {
		return fmt.Errorf("%w: the user of the process serving %s could not be read", ErrUntrustedAgent, path)
	}
	// SIDs are compared in their canonical S-1-… string form, which
	// windows.SID.String produces in upper case for both sides.
	if !strings.EqualFold(serverSID, mySID) {
		return fmt.Errorf("%w: %s is served by a process of user %s, not by you (%s); another user on this computer may be impersonating the agent: sign out and in again so your own agent creates the pipe, and tell your administrator",
			ErrUntrustedAgent, path, serverSID, mySID)
	}
	return nil
}
