package trayapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mapdrive/mapdrive/client/localclient"
)

// agentStarter starts `mapdrive agent` when the tray finds no agent. It
// belongs to the goroutine running follow.
type agentStarter struct {
	exe      string // mapdrive executable; "" to find it
	socket   string // the socket the tray uses
	explicit bool   // socket was given (passed on as MAPDRIVE_SOCKET)
	disabled bool
	log      *slog.Logger
	last     time.Time // last start attempt
}

// startInterval keeps a crashing agent from being restarted in a loop.
const startInterval = 30 * time.Second

// startWait bounds the wait for a started agent's socket.
const startWait = 20 * time.Second

// start runs the agent detached from the tray (it outlives a Quit) and
// waits until it answers on the socket.
func (s *agentStarter) start(ctx context.Context) error {
	if s.disabled {
		return errors.New("starting the agent is turned off (--no-start-agent)")
	}
	if !s.last.IsZero() && time.Since(s.last) < startInterval {
		return fmt.Errorf("the agent was started %s ago and stopped again; see its log in %s",
			time.Since(s.last).Round(time.Second), agentLogPath())
	}
	s.last = time.Now()
	exe, err := findAgent(s.exe)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "agent")
	cmd.Env = os.Environ()
	if s.explicit {
		cmd.Env = append(cmd.Env, "MAPDRIVE_SOCKET="+s.socket)
	}
	logPath := agentLogPath()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("create the agent's log folder: %w", err)
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the agent's log: %w", err)
	}
	defer lf.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = lf, lf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s agent: %w", exe, err)
	}
	s.log.Info("started the agent", "exe", exe, "pid", cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reap it if it stops early; it outlives the tray otherwise

	lc, err := localclient.New(s.socket)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startWait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := lc.Version(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("the agent stopped at once (%v); see %s", werr, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the agent did not answer within %s: %w", startWait, err)
		}
	}
}

// findAgent returns exe, or the mapdrive executable next to the tray's,
// or the one on PATH.
func findAgent(exe string) (string, error) {
	if exe != "" {
		return exe, nil
	}
	name := "mapdrive"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("find the mapdrive executable (next to the tray or on PATH): %w", err)
	}
	return p, nil
}

// agentLogPath is where a tray-started agent writes its log.
func agentLogPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mapdrive", "agent.log")
}
