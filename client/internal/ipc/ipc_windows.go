//go:build windows

package ipc

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// defaultPath names the pipe after the user's SID, so each user has their own.
func defaultPath() (string, error) {
	sid, err := currentSID()
	if err != nil {
		return "", err
	}
	return `\\.\pipe\mapdrive-agent-` + sid, nil
}

func currentSID() (string, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read the current user's SID: %w", err)
	}
	return tu.User.Sid.String(), nil
}

// listen creates the pipe with a protected DACL granting access to the
// current user only (and nobody else: not Administrators, not SYSTEM), so
// another user's process cannot open it. go-winio earns its place here: a
// correct overlapped-I/O named-pipe server is several hundred lines of
// x/sys/windows code.
func listen(path string, log *slog.Logger) (net.Listener, error) {
	sid, err := currentSID()
	if err != nil {
		return nil, err
	}
	cfg := &winio.PipeConfig{
		SecurityDescriptor: "D:P(A;;GA;;;" + sid + ")",
		InputBufferSize:    64 << 10,
		OutputBufferSize:   64 << 10,
	}
	ln, err := winio.ListenPipe(path, cfg)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another Mapdrive agent running?)", path, err)
	}
	return ln, nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, path)
}
