package agent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/internal/privfile"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// known is what the agent keeps on disk of the drives it resolved, so that
// it can mount them while Graph is unreachable.
type known struct {
	Resolved   map[string]RemoteDrive `json:"resolved"` // mapping id → drive
	Discovered []RemoteDrive          `json:"discovered"`
}

func (a *Agent) knownPath() string { return filepath.Join(a.o.Config.StateDir, "drives.json") }

func (a *Agent) loadKnown() known {
	k := known{Resolved: map[string]RemoteDrive{}}
	if data, err := os.ReadFile(a.knownPath()); err == nil {
		json.Unmarshal(data, &k)
	}
	if k.Resolved == nil {
		k.Resolved = map[string]RemoteDrive{}
	}
	return k
}

func (a *Agent) saveKnown(k known) {
	if a.o.Config.StateDir == "" {
		return
	}
	data, _ := json.MarshalIndent(k, "", "  ")
	if err := privfile.Write(a.knownPath(), data); err != nil {
		a.log.Warn("could not store the drive list", "err", err)
	}
}

// refresh brings sign-in, licence, mappings and drives up to date, then
// mounts assigned drives that are not mounted.
func (a *Agent) refresh(ctx context.Context) {
	defer func() {
		a.mu.Lock()
		if !a.st.refreshed {
			a.st.refreshed = true
			a.changedLocked()
		}
		a.mu.Unlock()
	}()
	if a.o.Auth == nil {
		a.mu.Lock()
		a.problemLocked(a.notConfigured().Problem)
		a.mu.Unlock()
		return
	}
	acct, err := a.o.Auth.Account(ctx)
	if err != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.st.login == nil {
			a.st.signIn = apitype.SignedOut
			if errors.Is(err, failure.SignInExpired) {
				a.st.signIn = apitype.SignInExpired
			}
			a.st.account = nil
		}
		if !errors.Is(err, failure.SignedOut) {
			a.problemLocked(problem("read the signed-in account", err).Problem)
		}
		a.changedLocked()
		return
	}
	// Before any mount opens a cache: an older version's single cache
	// becomes this account's.
	a.adoptLegacy(accountID(acct))
	a.mu.Lock()
	a.st.account = &acct
	if a.st.login == nil && a.st.signIn != apitype.SignInExpired {
		a.st.signIn = apitype.SignedIn
	}
	a.changedLocked()
	a.mu.Unlock()

	mappings, licensed := a.refreshLicence(ctx)
	// Only a licence answer (fresh or stored) says which mappings exist;
	// without one, mounted assigned drives stay as they are.
	a.refreshDrives(ctx, mappings, licensed && a.o.Service != nil)
	a.retireRemoved(ctx)
	a.reshapeCombined(ctx)
	if licensed {
		a.automount(ctx)
		a.drainUnmounted(ctx)
	}
}

// refreshLicence fetches the lease and mappings and records the licence
// state. It reports whether drives may be mounted.
func (a *Agent) refreshLicence(ctx context.Context) ([]apitype.Mapping, bool) {
	if a.o.Service == nil {
		a.mu.Lock()
		a.st.licence = apitype.Licence{State: apitype.LicenceUnknown, Message: "no Mapdrive service is configured (service_url); the licence is not checked"}
		a.changedLocked()
		a.mu.Unlock()
		return nil, true
	}
	res, err := a.o.Service.Fetch(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.changedLocked()
	licenceCodes := []string{apitype.CodeLicenceRefused, apitype.CodeLicenceExpired, apitype.CodeLeaseInvalid,
		apitype.CodeServiceUnreachable, apitype.CodeSignInExpired}
	if err == nil {
		a.st.licenceErr = nil
		a.clearProblemsLocked(licenceCodes...)
		if res.Cached {
			a.st.licence = apitype.Licence{State: apitype.LicenceCached, ExpiresAt: res.Lease.ExpiresAt,
				Message: "the Mapdrive service cannot be reached; using the stored licence until it expires"}
		} else {
			a.st.licence = apitype.Licence{State: apitype.LicenceValid, ExpiresAt: res.Lease.ExpiresAt}
			if a.st.signIn == apitype.SignInExpired {
				a.st.signIn = apitype.SignedIn
			}
		}
		a.st.policies = res.Policies
		a.applyBandwidth(res.Policies)
		a.st.bandwidth = a.bandwidthStatus()
		return res.Mappings, true
	}
	a.log.Warn("licence check failed", "err", err)
	p := problem("check the Mapdrive licence", err)
	a.st.licenceErr = p
	var re *svcclient.RefusedError
	switch {
	case errors.As(err, &re):
		a.st.licence = apitype.Licence{State: apitype.LicenceRefused, Message: p.Message}
	case errors.Is(err, svcclient.ErrLeaseExpired):
		a.st.licence = apitype.Licence{State: apitype.LicenceExpired, Message: p.Message}
	case errors.Is(err, svcclient.ErrLeaseInvalid):
		a.st.licence = apitype.Licence{State: apitype.LicenceRefused, Message: p.Message}
	case p.Code == apitype.CodeSignInExpired:
		a.st.signIn = apitype.SignInExpired
		a.st.licence = apitype.Licence{State: apitype.LicenceUnknown, Message: p.Message}
	default:
		a.st.licence = apitype.Licence{State: apitype.LicenceUnknown, Message: p.Message}
	}
	a.problemLocked(p.Problem)
	return nil, false
}

// licenceErrorLocked returns why mounting is not allowed, or nil.
func (a *Agent) licenceErrorLocked() *apitype.Error {
	if a.o.Service == nil {
		return nil
	}
	switch a.st.licence.State {
	case apitype.LicenceValid, apitype.LicenceCached:
		return nil
	}
	if a.st.licenceErr != nil {
		e := *a.st.licenceErr
		return &e
	}
	msg := a.st.licence.Message
	if msg == "" {
		msg = "the Mapdrive licence has not been checked yet"
	}
	return apitype.NewError(apitype.CodeServiceUnreachable, "cannot mount: "+msg,
		"Make sure you are signed in and the network is up; Mapdrive checks again on its own.")
}

// refreshDrives resolves mappings and discovers drives, then rebuilds the
// drive table, keeping mounted drives. When mappingsKnown, a mounted
// assigned drive whose mapping is gone is marked removed.
func (a *Agent) refreshDrives(ctx context.Context, mappings []apitype.Mapping, mappingsKnown bool) {
	if a.o.Directory == nil {
		return
	}
	k := a.loadKnown()
	resolveErr := map[string]error{}
	for _, m := range mappings {
		rd, err := a.resolve(ctx, m)
		if err != nil {
			resolveErr[m.ID] = err
			a.log.Warn("could not resolve an assigned drive", "mapping", m.ID, "err", err)
			continue
		}
		k.Resolved[m.ID] = rd
	}
	disc, derr := a.o.Directory.Discover(ctx)
	online := true
	if derr != nil {
		a.log.Warn("drive discovery incomplete", "err", derr)
		if len(disc) == 0 {
			disc = k.Discovered // offline: the list from last time
			online = false
		}
	}
	if len(disc) > 0 {
		k.Discovered = disc
	}
	a.saveKnown(k)

	a.mu.Lock()
	defer a.mu.Unlock()
	defer a.changedLocked()
	if !online {
		a.st.online = false
		p := problem("list your drives", derr).Problem
		if p.Code == apitype.CodeSignInExpired {
			a.st.signIn = apitype.SignInExpired
		}
		if p.Code == apitype.CodeOffline {
			p.Message = "Microsoft 365 cannot be reached, so the drive list may be out of date"
			p.Action = "Check the network connection. Mounted drives keep working from the cache and Mapdrive retries on its own."
		}
		a.problemLocked(p)
	} else {
		a.clearProblemsLocked(apitype.CodeOffline)
		if len(a.mountedLocked()) == 0 {
			a.st.online = true
		}
		if errors.Is(derr, failure.SignInExpired) {
			// Some lookups answered, one needs a new sign-in (a claims
			// challenge after a revocation): the user must know.
			a.st.signIn = apitype.SignInExpired
			a.problemLocked(problem("list your drives", derr).Problem)
		}
	}
	for _, d := range a.st.drives {
		d.seen = false
	}
	assignedIDs := map[string]bool{}
	for _, m := range mappings {
		m := m
		d := a.st.drives[m.ID]
		if d == nil {
			d = &drive{}
			a.st.drives[m.ID] = d
		}
		d.seen, d.mapping = true, &m
		if d.removed {
			// Assigned again before it was unmounted.
			d.removed, d.info.Error = false, nil
		}
		if d.mount == nil || k.Resolved[m.ID].ID != "" {
			d.remote = k.Resolved[m.ID]
		}
		if d.remote.RootID == "" {
			// A folder mapping leaves its library to discovery: the user
			// may still mount all of it.
			assignedIDs[d.remote.ID] = true
		}
		d.info.ID, d.info.Name, d.info.Source, d.info.AutoMount = m.ID, m.DisplayName, apitype.SourceAssigned, true
		d.info.Kind = kindOf(m.Target.Kind, d.remote.Kind)
		d.info.Target = describe(d.remote, m.Target)
		d.info.DriveID = d.remote.ID
		d.info.ReadOnly = m.ReadOnly || d.remote.ReadOnly
		if errors.Is(resolveErr[m.ID], ErrFolderMissing) {
			// Gone from where the mapping says: not mounted again; a
			// mounted drive stays, keeping its files and pending changes.
			p := apitype.Problem{Code: apitype.CodeFolderMissing, Drive: m.ID,
				Message: fmt.Sprintf("the folder %q of the drive %q assigned by your administrator was not found: it was deleted, renamed or moved on the server, or is a file", m.Target.FolderPath, m.DisplayName),
				Action:  "Your files here are kept, and changes wait to upload. Ask your IT administrator to point the mapping at the folder's new place."}
			d.info.Error = &p
			if d.mount == nil {
				d.info.State = apitype.DriveError
				if d.info.Mountpoint == "" {
					d.info.Mountpoint = a.defaultMountpointLocked(d)
				}
			}
			continue
		}
		if d.info.Error != nil && d.info.Error.Code == apitype.CodeFolderMissing {
			d.info.Error = nil // found again
			if d.info.State == apitype.DriveError {
				d.info.State = apitype.DriveUnmounted
			}
		}
		if d.mount == nil {
			if err := resolveErr[m.ID]; err != nil && d.remote.ID == "" {
				d.info.State = apitype.DriveError
				p := problem("find the drive for "+m.DisplayName, err).Problem
				p.Drive = m.ID
				if errors.Is(err, failure.NotFound) {
					p = apitype.Problem{Code: apitype.CodeUnknownDrive, Drive: m.ID,
						Message: fmt.Sprintf("the drive %q assigned by your administrator was not found, or you have no access to it", m.DisplayName),
						Action:  "Ask your IT administrator to check the mapping's site and library."}
				}
				d.info.Error = &p
			} else if d.info.State == "" || (d.info.State == apitype.DriveError && d.remote.ID != "") {
				d.info.State, d.info.Error = apitype.DriveUnmounted, nil
			}
			if d.info.Mountpoint == "" || d.info.State != apitype.DriveMounted {
				d.info.Mountpoint = a.defaultMountpointLocked(d)
			}
		}
	}
	for _, rd := range disc {
		if assignedIDs[rd.ID] || rd.ID == "" {
			continue
		}
		d := a.st.drives[rd.ID]
		if d == nil {
			d = &drive{info: apitype.Drive{State: apitype.DriveUnmounted}}
			a.st.drives[rd.ID] = d
		}
		d.seen, d.remote, d.mapping = true, rd, nil
		d.info.ID, d.info.Name, d.info.Kind, d.info.Source = rd.ID, rd.Name, rd.Kind, apitype.SourceDiscovered
		d.info.Target, d.info.DriveID, d.info.ReadOnly = describe(rd, apitype.Target{}), rd.ID, rd.ReadOnly
		if d.mount == nil && d.info.State != apitype.DriveMounting {
			d.info.Mountpoint = a.defaultMountpointLocked(d)
		}
	}
	for key, d := range a.st.drives {
		if !d.seen && d.mount == nil && d.info.State != apitype.DriveMounting {
			delete(a.st.drives, key)
			continue
		}
		if mappingsKnown && !d.seen && d.mapping != nil && d.mount != nil && !d.removed {
			d.removed, d.info.AutoMount = true, false
			d.info.Error = &apitype.Problem{Code: apitype.CodeMappingRemoved, Drive: key,
				Message: fmt.Sprintf("your administrator removed the drive %s; it is unmounted once its pending uploads are done", d.info.Name),
				Action:  "Save and close the files you have open on it. Ask your IT administrator if you still need it."}
			a.log.Info("an assigned drive was removed by the administrator; unmounting it once its uploads are done", "drive", key)
		}
	}
}

// retireDelay is how long a removed drive that could not be unmounted
// (files in use) waits before the next try.
const retireDelay = 30 * time.Second

// retireRemoved unmounts the drives whose mappings the admin removed, once
// nothing is waiting to upload, so no change is stranded in the journal of
// an unmounted drive. It runs at every refresh and stats sample.
func (a *Agent) retireRemoved(ctx context.Context) {
	a.mu.Lock()
	due := map[string]Mount{}
	now := a.o.Now()
	for k, d := range a.st.drives {
		if d.removed && d.mount != nil && !now.Before(d.nextRetire) {
			due[k] = d.mount
		}
	}
	a.mu.Unlock()
	for k, m := range due {
		if st := m.Stats(); st.Pending > 0 {
			continue
		}
		err := m.Unmount(ctx)
		a.mu.Lock()
		d := a.st.drives[k]
		if d == nil || d.mount != m {
			a.mu.Unlock()
			continue
		}
		if err != nil {
			d.nextRetire = a.o.Now().Add(retireDelay)
			d.info.Error = &apitype.Problem{Code: apitype.CodeMappingRemoved, Drive: k,
				Action: "Close the programs and terminals using files in it; Mapdrive tries again on its own."}
			d.info.Error.Message = fmt.Sprintf("your administrator removed the drive %s, and it could not be unmounted: %v", d.info.Name, err)
			a.changedLocked()
			a.mu.Unlock()
			a.log.Warn("could not unmount a removed drive; trying again", "drive", k, "err", err)
			continue
		}
		delete(a.st.drives, k)
		a.changedLocked()
		a.mu.Unlock()
		a.remember(k, "")
		a.log.Info("unmounted a drive the administrator removed", "drive", k)
	}
}

func kindOf(t apitype.TargetKind, remote string) string {
	if remote != "" {
		return remote
	}
	switch t {
	case apitype.TargetOneDrive:
		return "onedrive"
	case apitype.TargetTeam:
		return "team"
	case apitype.TargetCombined:
		return KindCombined
	}
	return "sharepoint"
}

// describe says in words what a drive is.
func describe(rd RemoteDrive, t apitype.Target) string {
	switch {
	case rd.Kind == KindCombined:
		return describeCombined(rd)
	case rd.Kind == "onedrive" || t.Kind == apitype.TargetOneDrive:
		return "your OneDrive"
	case rd.Kind == "team":
		return "Team files: " + rd.Name
	case rd.SiteURL != "" && rd.Library != "":
		return rd.SiteURL + " › " + rd.Library + folderSuffix(t)
	case t.SiteURL != "":
		lib := t.LibraryName
		if lib == "" {
			lib = "Documents"
		}
		return t.SiteURL + " › " + lib + folderSuffix(t)
	}
	return rd.Name + folderSuffix(t)
}

// folderSuffix names a target's folder, " › Reports › 2026", or "".
func folderSuffix(t apitype.Target) string {
	if t.FolderPath == "" {
		return ""
	}
	return " › " + strings.ReplaceAll(strings.Trim(t.FolderPath, "/"), "/", " › ")
}

func (a *Agent) mountedLocked() []string {
	var keys []string
	for k, d := range a.st.drives {
		if d.mount != nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// automount mounts every assigned drive that is not mounted, unless the
// user unmounted it, and every drive the user had mounted by hand before
// the agent stopped, at the mountpoint they chose. Stale mounts left by a
// killed agent are cleaned first.
func (a *Agent) automount(ctx context.Context) {
	remembered := a.loadRemembered()
	a.cleanStaleOnce(ctx, remembered)
	a.mu.Lock()
	if a.st.signingOut {
		a.mu.Unlock()
		return
	}
	var keys []string
	for _, k := range a.sortedKeysLocked() {
		d := a.st.drives[k]
		_, byHand := remembered[k]
		if (d.mapping != nil || byHand) && d.mount == nil && d.remote.ID != "" && !a.st.userUnmounted[k] &&
			d.info.State != apitype.DriveMounting && d.info.State != apitype.DriveError {
			keys = append(keys, k)
		}
	}
	a.mu.Unlock()
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		if _, err := a.mountKey(ctx, k, remembered[k]); err != nil {
			a.log.Warn("could not mount a drive again", "drive", k, "err", err)
		}
	}
}

// findLocked finds a drive by id, name (case-insensitive) or mountpoint.
func (a *Agent) findLocked(ref string) (string, *apitype.Error) {
	if _, ok := a.st.drives[ref]; ok {
		return ref, nil
	}
	var hits []string
	for k, d := range a.st.drives {
		if strings.EqualFold(d.info.Name, ref) || (d.info.DriveID != "" && d.info.DriveID == ref) ||
			(d.info.Mountpoint != "" && samePath(d.info.Mountpoint, ref)) {
			hits = append(hits, k)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	if len(hits) > 1 {
		return "", apitype.NewError(apitype.CodeUnknownDrive, fmt.Sprintf("more than one drive is called %q", ref),
			"Use the drive's id from `mapdrive drives`.")
	}
	var names []string
	for _, k := range a.sortedKeysLocked() {
		names = append(names, fmt.Sprintf("%q", a.st.drives[k].info.Name))
	}
	action := "Run `mapdrive drives` to see the drives you can mount."
	if len(names) > 0 {
		action = "Known drives: " + strings.Join(names, ", ") + "."
	} else if a.st.signIn != apitype.SignedIn {
		action = "Sign in with `mapdrive login` first; then `mapdrive drives` lists your drives."
	}
	return "", apitype.NewError(apitype.CodeUnknownDrive, fmt.Sprintf("there is no drive %q", ref), action)
}

// Drives implements localapi.Drives.
func (a *Agent) Drives(ctx context.Context) ([]apitype.Drive, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st.signIn == apitype.SignedOut && a.st.account == nil {
		if a.o.Auth == nil {
			return nil, a.notConfigured()
		}
		return nil, apitype.NewError(apitype.CodeNotSignedIn, "you are not signed in, so no drives are known",
			"Sign in with `mapdrive login` (or `mapdrive login --device-code` on a machine without a browser).")
	}
	return a.drivesLocked(), nil
}

// Mount implements localapi.Drives.
func (a *Agent) Mount(ctx context.Context, req apitype.MountRequest) (apitype.Drive, error) {
	a.mu.Lock()
	key, perr := a.findLocked(req.Drive)
	if perr != nil {
		a.mu.Unlock()
		return apitype.Drive{}, perr
	}
	if lerr := a.licenceErrorLocked(); lerr != nil {
		a.mu.Unlock()
		return apitype.Drive{}, lerr
	}
	delete(a.st.userUnmounted, key)
	a.mu.Unlock()
	info, err := a.mountKey(ctx, key, req.Mountpoint)
	if err == nil {
		a.remember(key, info.Mountpoint)
	}
	return info, err
}

// mountKey mounts one drive at mp ("" for its default mountpoint).
func (a *Agent) mountKey(ctx context.Context, key, mp string) (apitype.Drive, error) {
	a.mu.Lock()
	d, ok := a.st.drives[key]
	if !ok {
		a.mu.Unlock()
		return apitype.Drive{}, apitype.NewError(apitype.CodeUnknownDrive, "the drive went away", "Run `mapdrive drives` again.")
	}
	if mp == "" {
		mp = d.info.Mountpoint
		if mp == "" {
			mp = a.defaultMountpointLocked(d)
		}
	}
	if err := a.validateMountpointSyntax(mp); err != nil {
		a.mu.Unlock()
		return apitype.Drive{}, err
	}
	mp = cleanMountpoint(mp)
	if d.mount != nil || d.info.State == apitype.DriveMounting {
		info := d.info
		a.mu.Unlock()
		if d.mount != nil && samePath(info.Mountpoint, mp) {
			return info, nil
		}
		return apitype.Drive{}, apitype.NewError(apitype.CodeAlreadyMounted,
			fmt.Sprintf("%s is already mounted at %s", info.Name, info.Mountpoint),
			"Unmount it first with `mapdrive unmount "+quoteArg(info.Name)+"`.")
	}
	if d.remote.ID == "" {
		a.mu.Unlock()
		return apitype.Drive{}, apitype.NewError(apitype.CodeUnknownDrive,
			fmt.Sprintf("the drive behind %q could not be found yet", d.info.Name),
			"Check the network; Mapdrive looks it up again on its own. If it persists, ask your IT administrator to check the mapping.")
	}
	for k, o := range a.st.drives {
		if k != key && (o.mount != nil || o.info.State == apitype.DriveMounting) && samePath(o.info.Mountpoint, mp) {
			a.mu.Unlock()
			return apitype.Drive{}, apitype.NewError(apitype.CodeMountpointBusy,
				fmt.Sprintf("%s is in use by the drive %s", mp, o.info.Name), "Choose another mountpoint, or unmount that drive first.")
		}
	}
	d.info.State, d.info.Mountpoint, d.info.Error = apitype.DriveMounting, mp, nil
	spec := a.specLocked(key, d)
	spec.Mountpoint = mp
	paused := a.st.paused
	a.changedLocked()
	a.mu.Unlock()

	// The drive's cache is the drain's until it is closed.
	a.stopDrain(ctx, key)
	m, err := a.doMount(ctx, spec)

	a.mu.Lock()
	if cur := a.st.drives[key]; cur != d {
		// Signed out meanwhile: undo the mount.
		a.mu.Unlock()
		if m != nil {
			if err := m.Unmount(ctx); err != nil {
				a.log.Error("could not unmount a drive mounted during sign-out", "drive", key, "err", err)
			}
		}
		return apitype.Drive{}, apitype.NewError(apitype.CodeNotSignedIn, "you signed out while the drive was mounting", "Sign in again with `mapdrive login`.")
	}
	defer a.mu.Unlock()
	defer a.changedLocked()
	if err != nil {
		p := problem("mount "+d.info.Name, err)
		if p.Code == apitype.CodeInternal {
			p = apitype.NewError(apitype.CodeMountFailed, fmt.Sprintf("could not mount %s at %s: %v", d.info.Name, mp, err),
				"Check that FUSE is installed (WinFsp on Windows, macFUSE on macOS) and the mountpoint is usable, then try again.")
		}
		p.Drive = key
		d.info.State = apitype.DriveError
		d.info.Error = &p.Problem
		a.problemLocked(p.Problem)
		return apitype.Drive{}, p
	}
	d.mount = m
	if paused {
		if err := m.SetUploadsPaused(true); err != nil {
			a.log.Warn("could not pause uploads of a new mount", "drive", key, "err", err)
		}
	}
	d.info.State = apitype.DriveMounted
	a.log.Info("mounted", "drive", key)
	info := d.info
	return info, nil
}

// specLocked describes how drive d (key) is opened: its cache, limits,
// poll interval and pins; the caller sets the mountpoint.
func (a *Agent) specLocked(key string, d *drive) MountSpec {
	spec := MountSpec{
		Key: key, Drive: d.remote, Label: d.info.Name, ReadOnly: d.info.ReadOnly,
		CacheMax: int64(a.st.settings.CacheMaxGB * (1 << 30)),
		Poll:     a.o.Config.PollInterval,
	}
	if a.st.account != nil {
		spec.Account = accountID(*a.st.account)
		spec.CacheDir = a.driveDir(spec.Account, d.remote.CacheName())
	}
	if d.mapping != nil {
		if d.mapping.CacheLimitBytes > 0 {
			spec.CacheMax = d.mapping.CacheLimitBytes
		}
		spec.PinAll = d.mapping.OfflinePin == apitype.PinAll
		spec.Exclusive = d.mapping.ExclusiveEditing
	}
	for _, p := range a.st.settings.Pins {
		if p.Drive == key {
			spec.Pins = append(spec.Pins, p.Path)
		}
	}
	// The tenant's delta poll policy applies unless the user set one.
	if secs := a.st.policies.DeltaPollSeconds; secs > 0 && a.o.Config.Sources["poll_interval"] == config.FromDefault {
		spec.Poll = time.Duration(secs) * time.Second
	}
	return spec
}

// doMount checks the mountpoint, fetches the cache key and mounts.
func (a *Agent) doMount(ctx context.Context, spec MountSpec) (Mount, error) {
	if a.o.Mounter == nil {
		return nil, apitype.NewError(apitype.CodeNotImplemented, "this build of Mapdrive cannot mount drives",
			"Install a build with filesystem support (FUSE, WinFsp or macFUSE).")
	}
	if spec.Account == "" {
		return nil, apitype.NewError(apitype.CodeNotSignedIn, "you are not signed in", "Sign in with `mapdrive login`.")
	}
	if err := a.o.CheckMountpoint(spec.Mountpoint); err != nil {
		return nil, err
	}
	key, err := a.cacheKey(spec.Account)
	if err != nil {
		return nil, err
	}
	spec.CacheKey = key
	// The mount lives as long as the agent, not the request that asked.
	return a.o.Mounter.Mount(a.ctx, spec)
}

// cacheKey returns account aid's cache encryption key from the OS
// keyring, creating it on first use.
func (a *Agent) cacheKey(aid string) ([]byte, error) {
	if a.o.Secrets == nil {
		return nil, nil
	}
	k, err := a.o.Secrets.Get(cacheKeyName(aid))
	if err == nil && len(k) == 32 {
		return k, nil
	}
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return nil, fmt.Errorf("%w: read the cache key: %w", ErrKeyringUnavailable, err)
	}
	k = make([]byte, 32)
	rand.Read(k)
	if err := a.o.Secrets.Set(cacheKeyName(aid), k); err != nil {
		return nil, fmt.Errorf("%w: store the cache key: %w", ErrKeyringUnavailable, err)
	}
	return k, nil
}

// Unmount implements localapi.Drives.
func (a *Agent) Unmount(ctx context.Context, target string) (apitype.Drive, error) {
	a.mu.Lock()
	key, perr := a.findLocked(target)
	if perr != nil {
		a.mu.Unlock()
		return apitype.Drive{}, perr
	}
	d := a.st.drives[key]
	if d.mount == nil {
		info := d.info
		a.mu.Unlock()
		return apitype.Drive{}, apitype.NewError(apitype.CodeNotMounted, fmt.Sprintf("%s is not mounted", info.Name),
			"Run `mapdrive status` to see what is mounted.")
	}
	m := d.mount
	a.st.userUnmounted[key] = true
	a.mu.Unlock()
	a.remember(key, "")

	if err := m.Unmount(ctx); err != nil {
		p := apitype.NewError(apitype.CodeMountpointBusy, fmt.Sprintf("could not unmount %s: %v", d.info.Mountpoint, err),
			"Close the programs and terminals using files in it, then try again.")
		p.Drive = key
		return apitype.Drive{}, p
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	d.mount, d.stats, d.journalEmpty = nil, MountStats{}, false
	d.info.State = apitype.DriveUnmounted
	a.changedLocked()
	a.log.Info("unmounted", "drive", key)
	// What the drive had not uploaded yet goes on without the mount.
	a.wg.Go(func() { a.drainUnmounted(a.ctx) })
	return d.info, nil
}

// unmountAll unmounts every drive (at shutdown and sign-out).
func (a *Agent) unmountAll(ctx context.Context) {
	a.mu.Lock()
	mounts := map[string]Mount{}
	mps := map[string]string{}
	for k, d := range a.st.drives {
		if d.mount != nil {
			mounts[k] = d.mount
			mps[k] = d.info.Mountpoint
		}
	}
	a.mu.Unlock()
	for k, m := range mounts {
		// On SIGTERM libfuse's own handler may have unmounted the drive
		// already; Unmount still releases its cache, and its complaint
		// about the missing mount is expected.
		gone := !mountPresent(mps[k])
		if gone {
			a.log.Debug("drive already unmounted; releasing it", "drive", k)
		}
		if err := m.Unmount(ctx); err != nil {
			if !gone && mountPresent(mps[k]) {
				a.log.Error("could not unmount at shutdown", "drive", k, "err", err)
				continue
			}
			a.log.Debug("drive was already unmounted", "drive", k, "err", err)
		}
		a.mu.Lock()
		if d := a.st.drives[k]; d != nil && d.mount == m {
			d.mount, d.stats = nil, MountStats{}
			d.info.State = apitype.DriveUnmounted
			a.changedLocked()
		}
		a.mu.Unlock()
	}
}

// Pin implements localapi.Drives.
func (a *Agent) Pin(ctx context.Context, req apitype.PinRequest, pinned bool) error {
	a.mu.Lock()
	key, perr := a.findLocked(req.Drive)
	if perr != nil {
		a.mu.Unlock()
		return perr
	}
	d := a.st.drives[key]
	if pinned && d.mapping != nil && d.mapping.OfflinePin == apitype.PinNone {
		a.mu.Unlock()
		return apitype.NewError(apitype.CodeBadRequest, fmt.Sprintf("your administrator does not allow keeping %s offline", d.info.Name),
			"Ask your IT administrator to change the drive's offline policy.")
	}
	path := "/" + strings.Trim(req.Path, "/")
	pin := apitype.Pin{Drive: key, Path: path}
	a.st.settings.Pins = slices.DeleteFunc(a.st.settings.Pins, func(p apitype.Pin) bool { return p == pin })
	if pinned {
		a.st.settings.Pins = append(a.st.settings.Pins, pin)
	}
	m := d.mount
	a.saveSettingsLocked()
	a.changedLocked()
	a.mu.Unlock()
	if m != nil {
		if err := m.Pin(ctx, path, pinned); err != nil {
			return problem("keep "+path+" offline", err)
		}
	}
	return nil
}

// uploadQueuesLocked returns every open drive cache with an upload queue:
// the mounted drives and the ones draining without a mount.
func (a *Agent) uploadQueuesLocked() []Mount {
	var out []Mount
	for _, d := range a.st.drives {
		if d.mount != nil {
			out = append(out, d.mount)
		}
		if d.drain != nil {
			out = append(out, d.drain)
		}
	}
	return out
}

// SetUploadsPaused implements localapi.Uploads.
func (a *Agent) SetUploadsPaused(ctx context.Context, paused bool) error {
	a.mu.Lock()
	a.st.paused = paused
	mounts := a.uploadQueuesLocked()
	a.changedLocked()
	a.mu.Unlock()
	var failed error
	for _, m := range mounts {
		if err := m.SetUploadsPaused(paused); err != nil {
			failed = err
		}
	}
	if errors.Is(failed, ErrUnsupported) {
		a.mu.Lock()
		a.st.paused = false
		a.changedLocked()
		a.mu.Unlock()
		return apitype.NewError(apitype.CodeNotImplemented, "this build of Mapdrive cannot pause uploads of mounted drives yet",
			"Uploads carry on; to stop them, unmount the drive (its changes stay queued in the cache).")
	}
	if failed != nil {
		return problem("pause uploads", failed)
	}
	return nil
}

// safeName makes a drive id usable as a directory name.
func safeName(s string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", ":", "_", "!", "_", " ", "_")
	return r.Replace(s)
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " '\"") {
		return "\"" + s + "\""
	}
	return s
}
