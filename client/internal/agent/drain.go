package agent

import (
	"context"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"os"
	"path/filepath"
)

// A drive that is not mounted may still hold changes waiting to upload:
// the agent was killed with the drive mounted and the user has not
// mounted it again, or the user unmounted it before its queue emptied.
// The agent drains such a journal without a mount, so a change never
// waits for the user to mount its drive again.

// Drainer opens a drive's cache without mounting it, so its journal of
// pending uploads is sent. The Mount it returns has no mountpoint; its
// Unmount closes the cache.
type Drainer interface {
	Drain(ctx context.Context, spec MountSpec) (Mount, error)
}

// drainUnmounted starts a drain for every unmounted drive whose cache
// exists and was not found empty since it was last mounted. Those with
// nothing pending are closed at once; the others when their queue empties
// (retireDrains).
func (a *Agent) drainUnmounted(ctx context.Context) {
	dr, ok := a.o.Mounter.(Drainer)
	if !ok {
		return
	}
	a.drainMu.Lock()
	defer a.drainMu.Unlock()
	a.mu.Lock()
	specs := map[string]MountSpec{}
	for k, d := range a.st.drives {
		if d.mount != nil || d.drain != nil || d.journalEmpty || d.remote.ID == "" || d.info.State == apitype.DriveMounting {
			continue
		}
		spec := a.specLocked(k, d)
		if spec.CacheDir == "" {
			continue // signed out
		}
		if _, err := os.Stat(filepath.Join(spec.CacheDir, "meta")); err != nil {
			d.journalEmpty = true // never mounted here: nothing can be pending
			continue
		}
		specs[k] = spec
	}
	paused := a.st.paused
	a.mu.Unlock()
	if len(specs) == 0 {
		return
	}
	for k, spec := range specs {
		key, err := a.cacheKey(spec.Account)
		if err != nil {
			a.log.Warn("cannot send the pending uploads of unmounted drives", "err", err)
			return
		}
		spec.CacheKey = key
		m, err := dr.Drain(a.ctx, spec)
		if err != nil {
			a.log.Warn("could not open an unmounted drive's pending uploads", "drive", k, "err", err)
			continue
		}
		if paused {
			m.SetUploadsPaused(true)
		}
		st := m.Stats()
		a.mu.Lock()
		d := a.st.drives[k]
		keep := d != nil && d.mount == nil && d.info.State != apitype.DriveMounting && st.Pending > 0
		if keep {
			d.drain, d.stats = m, st
			a.changedLocked()
		} else if d != nil && st.Pending == 0 {
			d.journalEmpty = true
		}
		a.mu.Unlock()
		if !keep {
			if err := m.Unmount(ctx); err != nil {
				a.log.Warn("could not close an unmounted drive's cache", "drive", k, "err", err)
			}
			continue
		}
		a.log.Info("sending the pending uploads of a drive that is not mounted", "drive", k, "pending", st.Pending)
	}
}

// retireDrains closes the drains whose queues are empty.
func (a *Agent) retireDrains(ctx context.Context) {
	a.drainMu.Lock()
	defer a.drainMu.Unlock()
	a.mu.Lock()
	drains := map[string]Mount{}
	for k, d := range a.st.drives {
		if d.drain != nil {
			drains[k] = d.drain
		}
	}
	a.mu.Unlock()
	for k, m := range drains {
		st := m.Stats()
		a.mu.Lock()
		d := a.st.drives[k]
		if d != nil && d.drain == m {
			d.stats = st
			a.changedLocked()
			if st.Pending == 0 {
				d.drain, d.journalEmpty = nil, true
			}
		}
		a.mu.Unlock()
		if st.Pending == 0 {
			if err := m.Unmount(ctx); err != nil {
				a.log.Warn("could not close an unmounted drive's cache", "drive", k, "err", err)
			}
			a.log.Info("the pending uploads of a drive that is not mounted are done", "drive", k)
		}
	}
}

// stopDrain closes key's drain, if any, so the drive can be mounted; what
// it did not send stays journaled for the mount.
func (a *Agent) stopDrain(ctx context.Context, key string) {
	a.drainMu.Lock()
	defer a.drainMu.Unlock()
	a.mu.Lock()
	var m Mount
	if d := a.st.drives[key]; d != nil {
		m, d.drain, d.journalEmpty = d.drain, nil, false
	}
	a.mu.Unlock()
	if m != nil {
		if err := m.Unmount(ctx); err != nil {
			a.log.Warn("could not close an unmounted drive's cache", "drive", key, "err", err)
		}
	}
}

// stopAllDrains closes every drain (shutdown, sign-out).
func (a *Agent) stopAllDrains(ctx context.Context) {
	a.mu.Lock()
	var keys []string
	for k, d := range a.st.drives {
		if d.drain != nil {
			keys = append(keys, k)
		}
	}
	a.mu.Unlock()
	for _, k := range keys {
		a.stopDrain(ctx, k)
	}
}
