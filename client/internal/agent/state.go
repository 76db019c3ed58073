package agent

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/version"
)

// state is the agent's mutable state; every field is guarded by Agent.mu.
type state struct {
	signIn  apitype.SignInState
	account *apitype.Account
	licence apitype.Licence
	// policies are the tenant's, from the last licence check.
	policies apitype.Policies
	// bandwidth is the limiter's state at the last sample.
	bandwidth apitype.Bandwidth
	// licenceErr is why mounting is refused when licence is not valid.
	licenceErr *apitype.Error
	online     bool
	paused     bool
	drives     map[string]*drive // by key
	problems   []apitype.Problem // recent, newest last, capped
	login      *loginRun
	// signingOut: a sign-out is unmounting and flushing; nothing mounts.
	signingOut bool
	settings   apitype.Settings
	// userUnmounted holds drives the user unmounted; automount leaves them.
	userUnmounted map[string]bool
	// refreshed reports whether one refresh has completed.
	refreshed bool
	// refreshStarted and refreshDone count the refresh loop's runs;
	// refreshWake is closed and replaced when one finishes.
	refreshStarted, refreshDone uint64
	refreshWake                 chan struct{}

	seq     uint64
	changed chan struct{} // closed and replaced at every change
}

// drive is one known drive.
type drive struct {
	info    apitype.Drive
	remote  RemoteDrive
	mapping *apitype.Mapping // nil for discovered drives
	mount   Mount            // non-nil while mounted
	stats   MountStats
	seen    bool // found in the latest refresh (else dropped when unmounted)
	// removed: the admin removed or unassigned the mapping while it was
	// mounted; it unmounts once its pending uploads are done.
	removed bool
	// nextRetire is when a removed drive that could not be unmounted
	// (files in use) is tried again.
	nextRetire time.Time
	// drain sends the pending uploads of the drive while it is not
	// mounted (drain.go); journalEmpty: a drain found nothing pending
	// since the drive was last mounted.
	drain        Mount
	journalEmpty bool
}

const maxProblems = 20

func newState(o Options) state {
	return state{
		signIn:        apitype.SignedOut,
		online:        true, // until a request fails
		licence:       apitype.Licence{State: apitype.LicenceUnknown},
		drives:        map[string]*drive{},
		userUnmounted: map[string]bool{},
		changed:       make(chan struct{}),
		refreshWake:   make(chan struct{}),
		settings: apitype.Settings{
			CacheMaxGB: o.Config.CacheMaxGB,
			Autostart:  o.Config.Autostart,
			MountRoot:  o.Config.MountRoot,
			Pins:       []apitype.Pin{},
		},
	}
}

// changedLocked records a change: watchers wake up.
func (a *Agent) changedLocked() {
	a.st.seq++
	close(a.st.changed)
	a.st.changed = make(chan struct{})
}

// problemLocked records a problem for the status (deduplicated by code,
// drive and message).
func (a *Agent) problemLocked(p apitype.Problem) {
	if p.Time.IsZero() {
		p.Time = a.o.Now()
	}
	a.st.problems = slices.DeleteFunc(a.st.problems, func(q apitype.Problem) bool {
		return q.Code == p.Code && q.Drive == p.Drive && q.Message == p.Message
	})
	a.st.problems = append(a.st.problems, p)
	if len(a.st.problems) > maxProblems {
		a.st.problems = a.st.problems[len(a.st.problems)-maxProblems:]
	}
	a.changedLocked()
}

// clearProblemsLocked drops problems with any of codes.
func (a *Agent) clearProblemsLocked(codes ...string) {
	n := len(a.st.problems)
	a.st.problems = slices.DeleteFunc(a.st.problems, func(q apitype.Problem) bool { return slices.Contains(codes, q.Code) })
	if len(a.st.problems) != n {
		a.changedLocked()
	}
}

// Status implements localapi.StatusSource.
func (a *Agent) Status() (apitype.Status, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked(), a.st.changed
}

func (a *Agent) statusLocked() apitype.Status {
	s := apitype.Status{
		AgentVersion:  version.Version,
		SignIn:        a.st.signIn,
		Licence:       a.st.licence,
		Online:        a.st.online,
		UploadsPaused: a.st.paused,
		Bandwidth:     a.st.bandwidth,
		Drives:        a.drivesLocked(),
		Transfers:     []apitype.Transfer{},
		Errors:        append([]apitype.Problem{}, a.st.problems...),
		Conflicts:     []apitype.Conflict{},
		Settings:      a.settingsLocked(),
		Updated:       a.o.Now().UTC(),
		Seq:           a.st.seq,
		Detail: &apitype.StatusDetail{
			Authority:  a.o.Config.Authority,
			ClientID:   a.o.Config.ClientID,
			ServiceURL: a.o.Config.ServiceURL,
			GraphURL:   a.o.Config.GraphURL,
			Socket:     a.o.Listener.Addr().String(),
		},
	}
	if a.st.account != nil {
		acct := *a.st.account
		s.Account = &acct
	}
	if a.st.login != nil && a.st.login.prompt != nil {
		p := *a.st.login.prompt
		s.Login = &p
	}
	for _, k := range a.sortedKeysLocked() {
		d := a.st.drives[k]
		for _, t := range d.stats.Transfers {
			t.Drive = k
			s.Transfers = append(s.Transfers, t)
		}
		for _, c := range d.stats.Conflicts {
			c.Drive = k
			s.Conflicts = append(s.Conflicts, c)
		}
		for _, p := range d.stats.Errors {
			p.Drive = k
			if p.Code == apitype.CodeFolderMissing {
				p.Message = fmt.Sprintf("drive %q: %s", d.info.Name, p.Message) // the vfs does not know the mapping's name
			}
			s.Errors = append(s.Errors, p)
		}
	}
	return s
}

// sortedKeysLocked orders drives: assigned first (admin's order), then
// discovered by name.
func (a *Agent) sortedKeysLocked() []string {
	keys := make([]string, 0, len(a.st.drives))
	for k := range a.st.drives {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		di, dj := a.st.drives[keys[i]], a.st.drives[keys[j]]
		if (di.mapping != nil) != (dj.mapping != nil) {
			return di.mapping != nil
		}
		if di.mapping != nil && di.mapping.Position != dj.mapping.Position {
			return di.mapping.Position < dj.mapping.Position
		}
		if di.remote.Kind != dj.remote.Kind && (di.remote.Kind == "onedrive" || dj.remote.Kind == "onedrive") {
			return di.remote.Kind == "onedrive"
		}
		if ni, nj := strings.ToLower(di.info.Name), strings.ToLower(dj.info.Name); ni != nj {
			return ni < nj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func (a *Agent) drivesLocked() []apitype.Drive {
	out := []apitype.Drive{}
	for _, k := range a.sortedKeysLocked() {
		d := a.st.drives[k]
		info := d.info
		info.CacheBytes = d.stats.CacheBytes
		info.PendingUploads = d.stats.Pending
		if info.Error != nil {
			e := *info.Error
			info.Error = &e
		}
		out = append(out, info)
	}
	return out
}

// sampleStats polls every mount's stats and publishes a change if any
// moved.
func (a *Agent) sampleStats() {
	a.mu.Lock()
	mounts := map[string]Mount{}
	for k, d := range a.st.drives {
		if d.mount != nil {
			mounts[k] = d.mount
		}
	}
	bw := a.bandwidthStatus()
	if bw != a.st.bandwidth {
		a.st.bandwidth = bw
		a.changedLocked()
	}
	a.mu.Unlock()
	if len(mounts) == 0 {
		return
	}
	stats := make(map[string]MountStats, len(mounts))
	for k, m := range mounts {
		stats[k] = m.Stats()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := false
	online := true
	for k, s := range stats {
		d, ok := a.st.drives[k]
		if !ok || d.mount != mounts[k] {
			continue
		}
		online = online && s.Online
		if !reflect.DeepEqual(d.stats, s) {
			d.stats = s
			changed = true
		}
	}
	if online != a.st.online {
		a.st.online = online
		changed = true
	}
	if changed {
		a.changedLocked()
	}
}
