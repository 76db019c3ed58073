// Command mapdrive-tray is Mapdrive's tray app: a status icon with a menu
// and a window over the per-user agent, which it starts when needed.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapdrive/mapdrive/client/internal/tray/trayapp"
	"github.com/mapdrive/mapdrive/shared/version"
)

func main() {
	var o trayapp.Options
	flag.StringVar(&o.Socket, "socket", os.Getenv("MAPDRIVE_SOCKET"), "the agent's local API socket (default: the per-user path)")
	flag.StringVar(&o.Agent, "agent", "", "the mapdrive executable to start as the agent (default: next to this one, then PATH)")
	flag.BoolVar(&o.NoStart, "no-start-agent", false, "do not start the agent when it is not running")
	flag.BoolVar(&o.Show, "show", false, "open the Mapdrive window at start")
	flag.BoolVar(&o.AtLogin, "at-login", false, "started by a login entry: quit if start at login is turned off")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("mapdrive-tray", version.Version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	o.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := trayapp.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "mapdrive-tray:", err)
		os.Exit(1)
	}
}
