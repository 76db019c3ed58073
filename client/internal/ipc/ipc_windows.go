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
//
// The pipe is created first-instance only: go-winio creates the first
// handle with NtCreateNamedPipeFile and the FILE_CREATE disposition, which
// is what CreateNamedPipe's FILE_FLAG_FIRST_PIPE_INSTANCE becomes, so if
// anybody (another user squatting the name included) already owns a pipe of
// this name, listen fails instead of joining it as one more instance.
func listen(path string, log *slog.Logger) (net.Listener, error) {
	sid, err := currentSID()
	if err != nil {
		return nil, err
	}
	cfg := &winio.PipeConfig{
		SecurityDescriptor: pipeSecurityDescriptor(sid),
		InputBufferSize:    64 << 10,
		OutputBufferSize:   64 << 10,
	}
	ln, err := winio.ListenPipe(path, cfg)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another Mapdrive agent running?)", path, err)
	}
	usePlaceholder(path)
	return ln, nil
}

// usePlaceholder opens and closes the pipe once as a client. go-winio's
// first handle, the one that reserves the name, asks for no read or write
// access so that Windows 10 keeps it disconnected and sends clients to the
// instances its accept loop creates. Windows 7 and wine (the CI's Windows)
// let a client connect to that placeholder instead, and nothing ever
// accepts there: the first client hangs for good (go-winio issues #173 and
// #313). Connecting to it here, before any real client can, and closing,
// leaves it closed to clients. On Windows 10 the open lands on an accept
// loop instance or finds none free (ERROR_PIPE_BUSY); either is harmless:
// the local API's server sees a connection that ends at once. Under wine
// a client dialling in the instant between ListenPipe and this call can
// still take the placeholder; it is the caller's first dial racing the
// agent's start, and the CI test waits for the agent's start line.
func usePlaceholder(path string) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return
	}
	h, err := windows.CreateFile(p, 0, 0, nil, windows.OPEN_EXISTING, windows.SECURITY_SQOS_PRESENT|windows.SECURITY_ANONYMOUS, 0)
	if err == nil {
		windows.CloseHandle(h)
	}
}

// dial opens the pipe and, before anything is written to it, checks that
// the process serving it runs as the current user. Another user of a shared
// host (Remote Desktop, Azure Virtual Desktop) could otherwise create
// \\.\pipe\mapdrive-agent-<victim SID> before the victim's agent starts.
func dial(ctx context.Context, path string) (net.Conn, error) {
	mySID, err := currentSID()
	if err != nil {
		return nil, err
	}
	c, err := winio.DialPipeContext(ctx, path)
	if err != nil {
		return nil, err
	}
	serverSID, sidErr := pipeServerSID(c)
	if err := verifyServerSID(path, serverSID, mySID); err != nil {
		c.Close()
		if sidErr != nil {
			return nil, fmt.Errorf("%w (%v)", err, sidErr)
		}
		return nil, err
	}
	return c, nil
}

// pipeServerSID returns the user SID of the process at the server end of
// the pipe connection c.
func pipeServerSID(c net.Conn) (string, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return "", fmt.Errorf("pipe connection %T exposes no handle", c)
	}
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(windows.Handle(f.Fd()), &pid); err != nil {
		return "", fmt.Errorf("GetNamedPipeServerProcessId: %w", err)
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return "", fmt.Errorf("open the pipe server process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("open the token of the pipe server process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read the user of the pipe server process %d: %w", pid, err)
	}
	return tu.User.Sid.String(), nil
}
