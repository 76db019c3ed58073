package tray

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// BadgeFor returns the tray badge for st: attention when the user must act
// (sign in, licence, a drive or upload error), offline when Microsoft 365
// is unreachable, syncing while transfers run, OK otherwise.
func BadgeFor(st apitype.Status) Badge {
	if needsAttention(st) {
		return BadgeAttention
	}
	if st.SignIn == apitype.SignedIn && !st.Online {
		return BadgeOffline
	}
	for _, t := range st.Transfers {
		if t.State != "paused" {
			return BadgeSyncing
		}
	}
	return BadgeOK
}

func needsAttention(st apitype.Status) bool {
	switch st.SignIn {
	case apitype.SignedOut, apitype.SignInExpired:
		return true
	}
	switch st.Licence.State {
	case apitype.LicenceRefused, apitype.LicenceExpired:
		return true
	}
	if len(st.Errors) > 0 {
		return true
	}
	for _, d := range st.Drives {
		if d.State == apitype.DriveError {
			return true
		}
	}
	return false
}

// Summary is the one line that says how things are, shown at the top of
// the tray menu and the window, and as the tray tooltip.
func Summary(st apitype.Status) string {
	switch st.SignIn {
	case apitype.SignedOut:
		return "Not signed in"
	case apitype.SigningIn:
		return "Signing in…"
	case apitype.SignInExpired:
		return "Sign-in expired: sign in again"
	}
	switch st.Licence.State {
	case apitype.LicenceRefused:
		return "Licence refused"
	case apitype.LicenceExpired:
		return "Licence expired"
	}
	if n := len(st.Errors); n > 0 {
		return plural(n, "problem needs", "problems need") + " attention"
	}
	if !st.Online {
		return "Offline: changes will upload later"
	}
	active := 0
	for _, t := range st.Transfers {
		if t.State != "paused" {
			active++
		}
	}
	switch {
	case st.UploadsPaused && len(st.Transfers) > 0:
		return "Uploads paused (" + plural(len(st.Transfers), "file waiting", "files waiting") + ")"
	case active > 0 && (st.Bandwidth.UploadLimited || st.Bandwidth.DownloadLimited):
		return "Syncing " + plural(active, "file", "files") + ", slowed by your organisation's bandwidth limit"
	case active > 0:
		return "Syncing " + plural(active, "file", "files")
	case st.UploadsPaused:
		return "Uploads paused"
	}
	return "Up to date"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// KindLabel names a drive's kind for people.
func KindLabel(kind string) string {
	switch strings.ToLower(kind) {
	case "onedrive":
		return "OneDrive"
	case "sharepoint":
		return "SharePoint"
	case "team":
		return "Teams"
	case "combined":
		return "Combined drive"
	case "":
		return "Drive"
	}
	return kind
}

// TargetLabel describes where a drive's files live: "OneDrive",
// "SharePoint · Finance › Documents", "Teams · Sales › General" or
// "Combined drive · 2 libraries: Finance, Sales".
func TargetLabel(d apitype.Drive) string {
	k := KindLabel(d.Kind)
	if d.Target == "" || strings.EqualFold(d.Target, k) {
		return k
	}
	return k + " · " + d.Target
}

// StateLabel says a drive's state in plain words.
func StateLabel(d apitype.Drive) string {
	switch d.State {
	case apitype.DriveMounted:
		if d.ReadOnly {
			return "Connected (read-only)"
		}
		return "Connected"
	case apitype.DriveMounting:
		return "Connecting…"
	case apitype.DriveUnmounted:
		return "Not connected"
	case apitype.DriveError:
		if d.Error != nil && d.Error.Message != "" {
			return "Problem: " + d.Error.Message
		}
		return "Problem"
	}
	return string(d.State)
}

// MenuLabel is a drive's line in the tray menu: name, where it is, state.
func MenuLabel(d apitype.Drive) string {
	where := d.Mountpoint
	if where == "" || d.State != apitype.DriveMounted && d.State != apitype.DriveMounting {
		return fmt.Sprintf("%s — %s", d.Name, StateLabel(d))
	}
	return fmt.Sprintf("%s (%s) — %s", d.Name, where, StateLabel(d))
}

// Bytes formats a byte count in the units a file manager would use.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTP"[exp])
}

// Progress returns the fraction of t done, and whether it is known.
func Progress(t apitype.Transfer) (float64, bool) {
	if t.Total <= 0 {
		return 0, false
	}
	f := float64(t.Done) / float64(t.Total)
	return min(max(f, 0), 1), true
}

// TransferLabel says what a transfer is doing, for people.
func TransferLabel(t apitype.Transfer, driveName string) string {
	verb := "Downloading"
	if t.Direction == apitype.Upload {
		verb = "Uploading"
	}
	switch t.State {
	case "queued":
		verb = "Waiting to download"
		if t.Direction == apitype.Upload {
			verb = "Waiting to upload"
		}
	case "paused":
		verb = "Paused"
	case "retrying":
		verb = fmt.Sprintf("Retrying (attempt %d)", t.Attempts+1)
	}
	s := fmt.Sprintf("%s %s", verb, path.Base(t.Path))
	if driveName != "" {
		s += " in " + driveName
	}
	if t.Total > 0 {
		s += fmt.Sprintf(" (%s of %s)", Bytes(t.Done), Bytes(t.Total))
	}
	return s
}

// ProblemText is a problem in plain words: what happened, then what to do.
func ProblemText(p apitype.Problem) string {
	msg := p.Message
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if hint := problemHint(p.Code); p.Action == "" && hint != "" {
		p.Action = hint
	}
	if p.Action == "" {
		return msg + "."
	}
	return msg + ". " + p.Action
}

// problemHint is what to do when the agent gave no action of its own.
func problemHint(code string) string {
	switch code {
	case apitype.CodeConsentRequired:
		return "Your IT administrator must approve Mapdrive for your organisation; send them the approval link."
	case apitype.CodeLicenceRefused:
		return "Ask your IT administrator for a Mapdrive licence."
	case apitype.CodeLicenceExpired:
		return "Connect to your organisation's network so Mapdrive can renew its licence."
	case apitype.CodeQuotaFull:
		return "Free some space in the drive, or ask your IT administrator for more."
	case apitype.CodeUploadFailed:
		return "Mapdrive keeps the file and tries again; check the network if it persists."
	case apitype.CodeSignInExpired, apitype.CodeNotSignedIn:
		return "Sign in again."
	case apitype.CodeOffline:
		return "Check the network connection; changes upload when it is back."
	}
	return ""
}

// SignInMessage turns a failed sign-in into what to tell the user, with
// the page to open when there is one (the admin-consent URL).
func SignInMessage(err error) (text, url string) {
	var p apitype.Problem
	if ae := asAgentError(err); ae != nil {
		p = ae.Problem
	} else {
		return "Sign-in failed: " + err.Error(), ""
	}
	switch p.Code {
	case apitype.CodeConsentRequired:
		text = "Your organisation has not approved Mapdrive yet. An IT administrator must grant consent before you can sign in."
		if p.Action != "" {
			text += " " + p.Action
		}
		return text, p.URL
	case apitype.CodeLicenceRefused:
		text = "You signed in, but Mapdrive could not get a licence for you: " + p.Message + "."
		if p.Action != "" {
			text += " " + p.Action
		} else {
			text += " " + problemHint(p.Code)
		}
		return text, p.URL
	}
	return "Sign-in failed: " + ProblemText(p), p.URL
}

// ConflictFolder is the local folder that holds both versions of c, or ""
// when its drive is not mounted.
func ConflictFolder(c apitype.Conflict, drives []apitype.Drive) string {
	for _, d := range drives {
		if d.ID != c.Drive {
			continue
		}
		if d.State != apitype.DriveMounted || d.Mountpoint == "" {
			return ""
		}
		dir := path.Dir("/" + strings.TrimPrefix(c.Path, "/"))
		return filepath.Join(d.Mountpoint, filepath.FromSlash(dir))
	}
	return ""
}

// driveName returns the display name of the drive with id, or id.
func driveName(drives []apitype.Drive, id string) string {
	for _, d := range drives {
		if d.ID == id {
			return d.Name
		}
	}
	return id
}

// asAgentError returns the agent's problem behind err, or nil.
func asAgentError(err error) *apitype.Error {
	var ae *apitype.Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// DriverHelp is the first-run message shown when the mount driver (WinFsp,
// macFUSE, FUSE) is missing: what is wrong, how to install it, and the
// download page when there is one.
type DriverHelp struct {
	Title string
	Body  string
	URL   string // "" where the OS's packages provide the driver
}

// DriverHelpFor is the message for goos (runtime.GOOS values).
func DriverHelpFor(goos string) DriverHelp {
	d := mountdriver.For(goos)
	h := DriverHelp{Title: d.Missing, URL: d.URL}
	what := "the driver"
	if goos == "windows" || goos == "darwin" {
		what = "the free driver"
	}
	h.Body = fmt.Sprintf("Mapdrive cannot mount your drives, because %s. %s is %s that lets Mapdrive show your Microsoft 365 files as a drive.\n\n",
		d.Missing, d.Name, what)
	switch {
	case d.URL != "":
		h.Body += fmt.Sprintf("Install %s from %s, or ask your IT administrator to install it for you.", d.Name, d.URL)
	default:
		h.Body += fmt.Sprintf("Install the packages %s (for example: sudo apt install %s), or ask your IT administrator to install them.",
			strings.ReplaceAll(d.Packages, " ", " and "), d.Packages)
	}
	h.Body += " Then mount the drive again; your drives stay listed in Mapdrive meanwhile."
	return h
}

// DriverMissing reports whether the mount driver is missing: the agent
// said so of a drive or in its problems, or the tray's own check (local)
// found it absent while no drive is mounted. st is nil before the agent's
// first status.
func DriverMissing(st *apitype.Status, local mountdriver.Presence) bool {
	if st == nil {
		return local == mountdriver.Missing
	}
	for _, d := range st.Drives {
		if d.Error != nil && d.Error.Code == apitype.CodeMountDriverMissing {
			return true
		}
	}
	for _, p := range st.Errors {
		if p.Code == apitype.CodeMountDriverMissing {
			return true
		}
	}
	for _, d := range st.Drives {
		if d.State == apitype.DriveMounted {
			return false // the driver works, whatever the check found
		}
	}
	return local == mountdriver.Missing
}

// DriverHelpDue decides whether to show the first-run message on its own:
// once per user, when the driver is missing. After that it shows only
// when the user asks (the drive's "How to install" button).
func DriverHelpDue(st *apitype.Status, local mountdriver.Presence, shownBefore bool) bool {
	return !shownBefore && DriverMissing(st, local)
}
