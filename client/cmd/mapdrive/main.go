// Command mapdrive is Mapdrive's command line and, as `mapdrive agent`, its
// per-user agent. Every command other than agent talks to the agent over
// its local API.
package main

import (
	"context"
	"os"

	"github.com/mapdrive/mapdrive/client/internal/agent"
	"github.com/mapdrive/mapdrive/client/internal/cli"
)

func main() {
	fi, err := os.Stdout.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		RunAgent:   agent.RunFromConfig,
		IsTerminal: tty,
	}))
}
