package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// A combined drive (#17 item 1) is one mapping whose top-level folders are
// libraries. The agent resolves each library for the signed-in user and
// keeps those the user can reach; the others are absent, not errors. At
// every refresh it resolves them again and hands a mounted drive the new
// set (MemberSetter), which adds and removes top-level folders without a
// remount.

// KindCombined is a combined drive's RemoteDrive.Kind and apitype.Drive.Kind.
const KindCombined = "combined"

// RemoteMember is one reachable library of a combined drive.
type RemoteMember struct {
	Name  string // its top-level folder
	Drive RemoteDrive
}

// MemberSetter is implemented by the mount of a combined drive: it
// replaces the libraries shown, opening the new ones and closing those
// that left, without unmounting.
type MemberSetter interface {
	SetMembers(ctx context.Context, spec MountSpec) error
}

// combinedID is a combined drive's RemoteDrive.ID: no Graph drive has it;
// it names the drive's cache folder, which holds one folder per library.
func combinedID(mappingID string) string { return "combined." + mappingID }

// resolve finds the drive a mapping points at; for a combined mapping, the
// libraries the user can reach. A library that is not found, not
// reachable, or whose folder is missing is left out; any other failure
// (offline, sign-in) fails the whole resolution, so that the drive keeps
// the set it had rather than losing libraries it cannot check.
func (a *Agent) resolve(ctx context.Context, m apitype.Mapping) (RemoteDrive, error) {
	if m.Target.Kind != apitype.TargetCombined {
		return a.o.Directory.Resolve(ctx, m.Target)
	}
	rd := RemoteDrive{ID: combinedID(m.ID), Name: m.DisplayName, Kind: KindCombined}
	for i, mb := range m.Target.Members {
		if i >= apitype.MaxCombinedMembers {
			break
		}
		if !apitype.ValidMemberName(mb.Name) || mb.Target.Kind == apitype.TargetCombined ||
			slices.ContainsFunc(rd.Members, func(o RemoteMember) bool { return strings.EqualFold(o.Name, mb.Name) }) {
			a.log.Warn("a library of a combined drive is invalid; left out", "mapping", m.ID, "library", i)
			continue
		}
		d, err := a.o.Directory.Resolve(ctx, mb.Target)
		switch {
		case err == nil:
			rd.Members = append(rd.Members, RemoteMember{Name: mb.Name, Drive: d})
		case errors.Is(err, failure.NotFound) || errors.Is(err, ErrFolderMissing):
			// Out of this user's reach: absent, as the admin intends.
			a.log.Debug("a library of a combined drive is out of reach; left out", "mapping", m.ID, "library", i, "err", err)
		default:
			return RemoteDrive{}, fmt.Errorf("library %d of the combined drive: %w", i+1, err)
		}
	}
	return rd, nil
}

// describeCombined says which libraries a combined drive shows; its kind
// (apitype.Drive.Kind, "combined") says the rest.
func describeCombined(rd RemoteDrive) string {
	names := make([]string, len(rd.Members))
	for i, m := range rd.Members {
		names[i] = m.Name
	}
	switch len(names) {
	case 0:
		return "none of its libraries is within your reach"
	case 1:
		return "1 library: " + names[0]
	}
	return fmt.Sprintf("%d libraries: %s", len(names), strings.Join(names, ", "))
}

// reshapeCombined gives every mounted combined drive its current set of
// libraries; a mount whose set has not changed does nothing.
func (a *Agent) reshapeCombined(ctx context.Context) {
	type job struct {
		key  string
		ms   MemberSetter
		spec MountSpec
	}
	var jobs []job
	a.mu.Lock()
	for k, d := range a.st.drives {
		if d.mount == nil || d.remote.Kind != KindCombined || d.removed {
			continue
		}
		if ms, ok := d.mount.(MemberSetter); ok {
			spec := a.specLocked(k, d)
			spec.Mountpoint = d.info.Mountpoint
			jobs = append(jobs, job{k, ms, spec})
		}
	}
	a.mu.Unlock()
	for _, j := range jobs {
		if err := j.ms.SetMembers(ctx, j.spec); err != nil {
			a.log.Warn("could not update the libraries of a combined drive", "drive", j.key, "err", err)
		}
	}
}
