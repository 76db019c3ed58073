// Package trayapp runs the Mapdrive tray app: it makes the fyne app,
// starts the agent when it is not running, follows the agent's status
// stream and feeds it to the tray UI (package tray). It is the only
// package that imports fyne.io/fyne/v2/app.
package trayapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/client/internal/tray"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// AppID is the tray's application id (fyne preferences, notifications).
const AppID = "com.mapdrive.tray"

// Options configure Run.
type Options struct {
	// Socket is the agent's socket; "" means the default per-user path.
	Socket string
	// Agent is the mapdrive executable to start when the agent is not
	// running; "" finds it next to the tray's executable, then on PATH.
	Agent string
	// NoStart keeps the tray from starting an agent.
	NoStart bool
	// Show opens the main window at start.
	Show bool
	// AtLogin says a login entry started the tray (tray.AtLoginFlag): it
	// quits at once when the user turned start at login off.
	AtLogin bool
	// Log receives the tray's log; nil discards it.
	Log *slog.Logger
}

// Run shows the tray until the user quits or ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lc, err := localclient.New(o.Socket)
	if err != nil {
		return err
	}
	icons, err := tray.NewIcons()
	if err != nil {
		return err
	}
	exe, _ := os.Executable()
	a := app.NewWithID(AppID)
	a.SetIcon(icons.App)
	ui, err := tray.New(tray.Options{
		App: a, Agent: lc, Icons: icons, Log: o.Log,
		StartAtLogin: tray.Autostart{Exe: exe},
		OnQuit:       cancel,
		// The first-run message says when WinFsp (FUSE) is missing, even
		// before the agent tries a mount.
		MountDriver: mountdriver.System{},
	})
	if err != nil {
		return err
	}
	defer ui.Close()
	if o.Show {
		ui.ShowWindow()
	}

	starter := &agentStarter{exe: o.Agent, socket: o.Socket, explicit: o.Socket != "", log: o.Log, disabled: o.NoStart}
	done := make(chan struct{})
	go func() {
		defer close(done)
		follow(ctx, lc, ui, starter, o.Log, func(st apitype.Status) {
			if o.AtLogin && !st.Settings.Autostart {
				o.Log.Info("started at login, but start at login is off: quitting")
				cancel()
				return
			}
			fyne.Do(ui.SyncStartAtLogin)
		})
	}()
	appDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done(): // a signal, or Quit from the menu
			fyne.Do(a.Quit)
		case <-appDone:
		}
	}()
	a.Run()
	close(appDone)
	cancel()
	<-done
	return nil
}

// follow keeps a status stream open and feeds the UI, starting the agent
// when nothing answers and reconnecting when the stream ends.
// first runs with the first status of the tray's life.
func follow(ctx context.Context, lc *localclient.Client, ui *tray.UI, st *agentStarter, log *slog.Logger, first func(apitype.Status)) {
	backoff := 500 * time.Millisecond
	synced := false
	for ctx.Err() == nil {
		w, err := lc.WatchStatus(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Debug("agent unreachable", "err", err)
			if !errors.Is(err, localclient.ErrAgentNotRunning) {
				ui.SetAgentDown(err)
			} else {
				ui.SetAgentDown(errors.New("it is not running; starting it"))
				if serr := st.start(ctx); serr != nil {
					log.Warn("could not start the agent", "err", serr)
					ui.SetAgentDown(fmt.Errorf("it is not running, and it could not be started: %v", serr))
				} else {
					backoff = 500 * time.Millisecond
					continue
				}
			}
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 500 * time.Millisecond
		for {
			s, err := w.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					log.Warn("status stream ended", "err", err)
				}
				break
			}
			if !synced {
				synced = true
				first(s)
			}
			ui.SetStatus(s)
		}
		w.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
