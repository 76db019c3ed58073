package m365sim

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Option adjusts the Config of StartForTest.
type Option func(*Config)

// WithSeed starts from seed instead of the demo seed.
func WithSeed(seed *directory.Seed) Option { return func(c *Config) { c.Seed = seed } }

// WithDataDir uses dir (for example to restart on the same state) instead
// of a new temporary directory.
func WithDataDir(dir string) Option { return func(c *Config) { c.DataDir = dir } }

// WithAddr listens on addr instead of 127.0.0.1:0.
func WithAddr(addr string) Option { return func(c *Config) { c.Addr = addr } }

// WithNow sets the simulator's clock.
func WithNow(now func() time.Time) Option { return func(c *Config) { c.Now = now } }

// WithLogger sends the simulator's logs to l (they are discarded otherwise).
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithConfig lets a test change any other field.
func WithConfig(f func(*Config)) Option { return func(c *Config) { f(c) } }

// StartForTest starts a simulator on 127.0.0.1 at a free port with a
// temporary data directory and the demo seed, and closes it when the test
// ends. It fails the test if the simulator does not start or close
// cleanly. MSAL keys its cache on host:port, so a test's cache does not
// carry over to another simulator. Logs are discarded unless the
// environment variable M365SIM_LOG names a level (debug, info, warn,
// error); then they go to stderr.
func StartForTest(t testing.TB, opts ...Option) *Sim {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}
	if name := os.Getenv("M365SIM_LOG"); name != "" {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(name)); err != nil {
			t.Fatalf("M365SIM_LOG=%q: %v", name, err)
		}
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start m365sim: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close m365sim: %v", err)
		}
	})
	return s
}
