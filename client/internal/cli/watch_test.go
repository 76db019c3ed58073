package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/client/internal/localapi"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// movingAgent reports a transfer that advances at every status.
type movingAgent struct {
	fakeAgent
	mu   sync.Mutex
	done int64
}

func (m *movingAgent) Status() (apitype.Status, <-chan struct{}) {
	st, _ := m.fakeAgent.Status()
	m.mu.Lock()
	m.done = min(m.done+(2<<20), 10<<20)
	st.Transfers[0].Done = m.done
	m.mu.Unlock()
	ch := make(chan struct{})
	close(ch) // always changed: the stream sends as fast as it is read
	return st, ch
}

// cancelAfter cancels once n status frames have been written.
type cancelAfter struct {
	buf    bytes.Buffer
	n      int
	marker string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if strings.Count(w.buf.String(), w.marker) >= w.n {
		w.cancel()
	}
	return len(p), nil
}

func TestStatusWatch(t *testing.T) {
	noFile := filepath.Join(t.TempDir(), "config.toml")

	tests := []struct {
		name, marker string
		args         []string
		tty          bool
	}{
		{"json lines", "\n", []string{"status", "--watch", "--json"}, false},
		{"terminal", "\x1b[H\x1b[2J", []string{"status", "-w"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "agent.sock")
			ln, err := ipc.Listen(sock, nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: localapi.New(&movingAgent{}, nil)}
			go srv.Serve(ln)
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelAfter{n: 3, marker: tt.marker, cancel: cancel}
			var errb bytes.Buffer
			args := append(append([]string{}, tt.args...), "--socket", sock, "--config", noFile)
			code := Main(ctx, args, Env{Stdout: out, Stderr: &errb, IsTerminal: tt.tty,
				LookupEnv: func(string) (string, bool) { return "", false }})
			if code != 0 {
				t.Fatalf("exit code %d, stderr %q", code, errb.String())
			}
			got := out.buf.String()
			if tt.tty {
				for _, want := range []string{"[####----------------]  20%", "[########------------]  40%", "↑"} {
					if !strings.Contains(got, want) {
						t.Errorf("watch output lacks %q:\n%s", want, got)
					}
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if len(lines) < 3 {
				t.Fatalf("got %d JSON lines, want at least 3", len(lines))
			}
			var prev int64
			for i, l := range lines[:3] {
				var st apitype.Status
				if err := json.Unmarshal([]byte(l), &st); err != nil {
					t.Fatalf("line %d %q: %v", i, l, err)
				}
				if d := st.Transfers[0].Done; d <= prev {
					t.Errorf("line %d: transfer at %d after %d, want progress", i, d, prev)
				} else {
					prev = d
				}
			}
		})
	}
}
