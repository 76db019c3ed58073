// Command m365sim runs the Microsoft 365 simulator: Entra ID and Graph
// behind one HTTPS listener, with state in a data directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func main() {
	addr := flag.String("addr", m365sim.DefaultAddr, "listen address host:port (port 0 picks a free one)")
	data := flag.String("data", m365sim.DefaultDataDir(), "data directory (state, CA certificate ca.pem)")
	seed := flag.String("seed", "demo", `seed file (YAML or JSON) used on first start, or "demo"`)
	level := flag.String("log-level", "info", "log level: debug, info, warn or error")
	printDemo := flag.Bool("print-demo-config", false, "print the demo seed's identities as bash assignments (scripts/demo.sh sources them) and exit")
	flag.Parse()
	if *printDemo {
		// The demo's settings come from the seed, through its own
		// config files, never from defaults built into Mapdrive.
		c, err := demo.Load()
		if err != nil {
			fmt.Fprintln(os.Stderr, "m365sim:", err)
			os.Exit(1)
		}
		fmt.Print(c.Shell())
		return
	}
	if err := run(*addr, *data, *seed, *level); err != nil {
		fmt.Fprintln(os.Stderr, "m365sim:", err)
		os.Exit(1)
	}
}

func run(addr, data, seedName, level string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	slog.SetDefault(log)
	seed, err := directory.LoadSeed(seedName)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return m365sim.Run(ctx, m365sim.Config{Addr: addr, DataDir: data, Seed: seed, Logger: log}, os.Stdout)
}
