// Command mapdrive-service is Mapdrive's companion service: licence
// validation with signed leases, drive mappings, and their administration.
// See docs/deploy-service.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapdrive/mapdrive/service/internal/cli"
	"github.com/mapdrive/mapdrive/service/internal/portal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Options{
		Portal: portal.New, // the admin portal (issue 6) at /portal/
	})
	stop()
	os.Exit(code)
}
