package content

import (
	"sort"
	"time"
)

// Evict drops least recently used files until the cache fits its bound,
// skipping open, dirty, downloading and pinned files. It returns how many
// files it dropped.
func (c *Content) Evict() int {
	if c.max <= 0 || c.used.Load() <= c.max {
		return 0
	}
	type cand struct {
		f      *File
		access time.Time
	}
	c.mu.Lock()
	var cands []cand
	for _, f := range c.files {
		f.mu.Lock()
		if f.refs == 0 && !f.e.Dirty && len(f.inflight) == 0 && f.e.count() > 0 {
			cands = append(cands, cand{f, f.e.Access})
		}
		f.mu.Unlock()
	}
	c.mu.Unlock()
	sort.Slice(cands, func(i, j int) bool { return cands[i].access.Before(cands[j].access) })
	n := 0
	for _, cd := range cands {
		if c.used.Load() <= c.max {
			break
		}
		if c.pinned(cd.f.key) {
			continue
		}
		c.mu.Lock()
		f := cd.f
		f.mu.Lock()
		if f.refs == 0 && !f.e.Dirty && len(f.inflight) == 0 && !f.removed {
			f.saveHeadLocked()
			f.dropBlocksLocked()
			f.changed = true
			if err := f.syncLocked(); err != nil {
				c.log.Warn("persist evicted cache entry", "err", err)
			}
			n++
		}
		f.mu.Unlock()
		c.mu.Unlock()
	}
	return n
}
