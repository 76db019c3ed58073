//go:build !windows

package trayapp

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAgentStarter(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("HOME", dir)
	script := filepath.Join(dir, "fake-mapdrive")
	// Not an agent: it records its arguments and environment, then exits.
	body := "#!/bin/sh\necho \"args=$*\" >\"$0.out\"\necho \"sock=$MAPDRIVE_SOCKET\" >>\"$0.out\"\necho 'agent log line'\nexit 3\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	s := &agentStarter{exe: script, socket: sock, explicit: true, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err := s.start(ctx)
	if err == nil || !strings.Contains(err.Error(), "stopped at once") {
		t.Fatalf("start of an agent that exits = %v, want it to say the agent stopped", err)
	}
	out, _ := os.ReadFile(script + ".out")
	if want := "args=agent\nsock=" + sock + "\n"; string(out) != want {
		t.Errorf("the agent ran with %q, want %q", out, want)
	}
	logData, _ := os.ReadFile(agentLogPath())
	if !strings.Contains(string(logData), "agent log line") {
		t.Errorf("the agent's output did not reach %s: %q", agentLogPath(), logData)
	}

	if err := s.start(ctx); err == nil || !strings.Contains(err.Error(), "stopped again") {
		t.Errorf("an immediate second start = %v, want it refused", err)
	}
	s.disabled = true
	if err := s.start(ctx); err == nil || !strings.Contains(err.Error(), "turned off") {
		t.Errorf("start while disabled = %v, want it refused", err)
	}
}

func TestFindAgent(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	if _, err := findAgent(""); err == nil {
		t.Errorf("findAgent found a mapdrive where there is none")
	}
	p := filepath.Join(dir, "mapdrive")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findAgent(""); err != nil || got != p {
		t.Errorf("findAgent = %q, %v; want %q from PATH", got, err, p)
	}
	if got, _ := findAgent("/given/mapdrive"); got != "/given/mapdrive" {
		t.Errorf("findAgent(given) = %q", got)
	}
}
