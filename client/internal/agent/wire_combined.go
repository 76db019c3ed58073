package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/union"
)

// memberSpec is how library mb of combined drive spec is opened: its own
// cache and state, in a folder of the combined drive's named after the
// library's drive (and folder), so that renaming the library in the
// mapping keeps its cache.
func memberSpec(spec MountSpec, mb RemoteMember) MountSpec {
	ms := spec
	ms.Drive = mb.Drive
	ms.ReadOnly = spec.ReadOnly || mb.Drive.ReadOnly
	ms.CacheDir = filepath.Join(spec.CacheDir, "libraries", safeName(mb.Drive.CacheName()))
	return ms
}

// openCombined opens each reachable library of a combined drive as a
// vfs.FS and presents them as one tree. A library that cannot be opened
// now (never seen and offline) is left out with a warning, and the next
// refresh tries it again (SetMembers); only when every library fails is
// it an error.
// dirs maps each opened library's name to its cache folder.
func (f *fuseMounter) openCombined(ctx context.Context, spec MountSpec, poll time.Duration, log *slog.Logger) (*union.FS, map[string]string, map[string]*vfs.FS, error) {
	opened := map[string]*vfs.FS{}
	members, dirs, err := f.openMembers(ctx, spec, poll, log, nil, opened)
	if err != nil {
		return nil, nil, nil, err
	}
	// Library names fold where the names inside them do (open).
	u, err := union.New(runtime.GOOS == "windows", members)
	if err != nil {
		for _, m := range members {
			m.FS.Close()
		}
		return nil, nil, nil, err
	}
	return u, dirs, opened, nil
}

// openMembers opens the libraries of spec, reusing those cur still holds
// (opened maps each cache folder opened to its vfs.FS; new ones are
// added): a library's state is never opened twice. It returns the members
// and their cache folders by name.
func (f *fuseMounter) openMembers(ctx context.Context, spec MountSpec, poll time.Duration, log *slog.Logger,
	cur *union.FS, opened map[string]*vfs.FS) ([]union.Member, map[string]string, error) {
	var out []union.Member
	next := map[string]string{}
	var errs []error
	for i, mb := range spec.Drive.Members {
		ms := memberSpec(spec, mb)
		if fsys := opened[ms.CacheDir]; fsys != nil && cur != nil && cur.Holds(fsys) {
			out = append(out, union.Member{Name: mb.Name, FS: fsys})
			next[mb.Name] = ms.CacheDir
			continue
		}
		fsys, err := f.openVFS(ctx, ms, poll, log.With("library", i), mb.Name)
		if err != nil {
			log.Warn("could not open a library of a combined drive; trying again at the next refresh", "library", i, "err", err)
			errs = append(errs, err)
			continue
		}
		out = append(out, union.Member{Name: mb.Name, FS: fsys})
		next[mb.Name] = ms.CacheDir
		opened[ms.CacheDir] = fsys
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, nil, fmt.Errorf("open the libraries of the combined drive: %w", errors.Join(errs...))
	}
	return out, next, nil
}

// combinedMount is a mounted combined drive: its libraries change at a
// refresh without a remount (MemberSetter).
type combinedMount struct {
	*fuseMount
	f    *fuseMounter
	u    *union.FS
	spec MountSpec // as mounted: its cache key opens new libraries

	mu   sync.Mutex        // serializes SetMembers; guards dirs and opened
	dirs map[string]string // current library name → the cache folder it was opened from
	// opened maps every cache folder this mount opened to its vfs.FS
	// (the union may hold it still, retired; see union.FS.Set).
	opened map[string]*vfs.FS
}

// SetMembers implements MemberSetter.
func (m *combinedMount) SetMembers(ctx context.Context, spec MountSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	spec.CacheKey, spec.CacheDir = m.spec.CacheKey, m.spec.CacheDir
	want := map[string]string{}
	for _, mb := range spec.Drive.Members {
		want[mb.Name] = memberSpec(spec, mb).CacheDir
	}
	if maps.Equal(want, m.dirs) {
		return nil
	}
	members, dirs, err := m.f.openMembers(ctx, spec, spec.Poll, m.log, m.u, m.opened)
	if err != nil {
		return err
	}
	if err := m.u.Set(members); err != nil {
		return err
	}
	m.dirs = dirs
	m.log.Info("the libraries of a combined drive changed", "libraries", len(members))
	return nil
}

var _ MemberSetter = (*combinedMount)(nil)
