package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/mapdrive/mapdrive/client/internal/privfile"
)

// The agent remembers, in its state dir, the drives the user mounted by
// hand (drive key → mountpoint), so that after a crash or a reboot they
// come back by themselves as assigned drives do. An explicit unmount
// forgets a drive; stopping the agent does not.

func (a *Agent) rememberedPath() string { return filepath.Join(a.o.Config.StateDir, "mounted.json") }

// loadRemembered reads the remembered mounts; a missing or unreadable
// file is an empty set (the user mounts again by hand).
func (a *Agent) loadRemembered() map[string]string {
	out := map[string]string{}
	if a.o.Config.StateDir == "" {
		return out
	}
	if data, err := os.ReadFile(a.rememberedPath()); err == nil {
		if err := json.Unmarshal(data, &out); err != nil {
			a.log.Warn("could not read the list of mounted drives", "err", err)
		}
	}
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// remember records (mp != "") or forgets (mp == "") a mount by the user.
// a.rememberMu serializes the read-modify-write.
func (a *Agent) remember(key, mp string) {
	if a.o.Config.StateDir == "" {
		return
	}
	a.rememberMu.Lock()
	defer a.rememberMu.Unlock()
	r := a.loadRemembered()
	if mp == "" {
		if _, ok := r[key]; !ok {
			return
		}
		delete(r, key)
	} else {
		if r[key] == mp {
			return
		}
		r[key] = mp
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	if err := privfile.Write(a.rememberedPath(), data); err != nil {
		a.log.Warn("could not store the list of mounted drives", "err", err)
	}
}

// StaleCleaner is implemented by a Mounter that can clean a dead mount
// left at a mountpoint by a killed agent.
type StaleCleaner interface {
	CleanStale(ctx context.Context, mountpoint string) error
}

// cleanStaleOnce cleans, once per agent, every mountpoint the agent owns:
// the remembered ones and the default mountpoints of every known drive,
// not only the ones about to be mounted, so that no "Transport endpoint is
// not connected" directory is left behind by a crash.
func (a *Agent) cleanStaleOnce(ctx context.Context, remembered map[string]string) {
	sc, ok := a.o.Mounter.(StaleCleaner)
	if !ok {
		return
	}
	a.mu.Lock()
	if a.staleCleaned {
		a.mu.Unlock()
		return
	}
	a.staleCleaned = true
	mps := map[string]bool{}
	for _, mp := range remembered {
		mps[mp] = true
	}
	for _, d := range a.st.drives {
		if d.mount == nil && d.info.Mountpoint != "" {
			mps[d.info.Mountpoint] = true
		}
	}
	a.mu.Unlock()
	for mp := range mps {
		if err := sc.CleanStale(ctx, mp); err != nil {
			a.log.Warn("could not clean a stale mountpoint", "err", err)
		}
	}
}
