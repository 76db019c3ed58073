// Package ipc is the agent's per-user local transport: a Unix socket on
// Linux and macOS (directory 0700, socket 0600, and a peer-credential check
// that refuses every other uid), and a named pipe on Windows whose security
// descriptor admits only the current user. The local API runs HTTP over it.
package ipc

import (
	"context"
	"errors"
	"log/slog"
	"net"
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

// Dial connects to the agent at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	return dial(ctx, path)
}
