package vfs

import (
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// The name rules of OneDrive for Business and SharePoint, as m365sim
// enforces them (shared/m365sim/graph/names.go), from Microsoft's
// "Restrictions and limitations in OneDrive and SharePoint"
// (https://support.microsoft.com/office/64883a5d-228e-48f5-b3d2-eb39e07630fa).
// The client refuses these names itself, before anything is queued, so a
// file that can only fail never waits in the upload queue. docs/posix.md
// lists them with their errnos.

// MaxPathChars is the longest decoded path SharePoint stores, counted in
// characters (Unicode code points) over the whole server-relative path:
// the library's own path ("/sites/Finance/Shared Documents",
// Options.LibraryPath) plus the path inside the drive.
const MaxPathChars = 400

// MaxNameBytes is the longest name, in bytes of UTF-8, that the mount
// accepts: the NAME_MAX it advertises in statfs. SharePoint has no limit
// of its own on one name but the path's.
const MaxNameBytes = 255

// reservedNames are refused as a whole name, in any letter case. Microsoft
// lists names, not stems: SharePoint accepts "CON.txt" and "aux.c".
var reservedNames = func() map[string]bool {
	m := map[string]bool{".lock": true, "con": true, "prn": true, "aux": true, "nul": true, "desktop.ini": true}
	for i := '0'; i <= '9'; i++ {
		m["com"+string(i)] = true
		m["lpt"+string(i)] = true
	}
	return m
}()

// ValidateName reports why SharePoint would refuse name as a file or
// folder name, as an error wrapping ErrInvalidName (ErrNameTooLong for a
// name over MaxNameBytes); nil when it is accepted. Local-only names
// (IsLocalOnly) are never sent and need no validation.
func ValidateName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidName, why) }
	lower := strings.ToLower(name)
	switch {
	case name == "" || name == "." || name == "..":
		return bad("empty name")
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: name longer than %d bytes", ErrNameTooLong, MaxNameBytes)
	case strings.ContainsAny(name, "\"*:<>?/\\|"):
		return bad(`contains one of " * : < > ? / \ |`)
	case strings.TrimSpace(name) != name:
		return bad("leading or trailing space")
	case strings.HasSuffix(name, "."):
		return bad("trailing dot")
	case strings.Contains(lower, "_vti_"):
		return bad("contains _vti_")
	case reservedNames[lower]:
		return bad("reserved name")
	case strings.HasPrefix(name, "~$"):
		return bad("reserved name")
	}
	for _, r := range name {
		if r < 0x20 {
			return bad("control character")
		}
	}
	return nil
}

// ValidatePath checks the last component of a drive-relative path and the
// length of the whole decoded path as SharePoint counts it: libraryChars
// (the length of the library's own server-relative path) plus p's
// characters.
func ValidatePath(p string, libraryChars int) error {
	p = "/" + strings.TrimPrefix(p, "/")
	if err := ValidateName(path.Base(p)); err != nil {
		return err
	}
	if n := libraryChars + utf8.RuneCountInString(p); n > MaxPathChars {
		return fmt.Errorf("%w: path of %d characters, SharePoint keeps at most %d (the library's path included)", ErrNameTooLong, n, MaxPathChars)
	}
	return nil
}

// IsLocalOnly reports whether name is an editor lock or temp file, or
// file-manager metadata, that stays on this machine and is never uploaded:
// Office owner files (~$*), LibreOffice locks (.~lock.*#), temp files
// (*.tmp: Word's ~WRD/~WRL, Excel's and PowerPoint's hex-named temps),
// Windows Explorer's desktop.ini and thumbnail caches, vim swap files,
// GNOME save temps and macOS metadata. It is the one rule set for every
// platform: SharePoint refuses some of these names (~$*, desktop.ini) and
// the others are noise the OneDrive client does not sync either.
func IsLocalOnly(name string) bool {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(name, "~$"):
		return true
	case strings.HasPrefix(name, ".~lock.") && strings.HasSuffix(name, "#"):
		return true
	case strings.HasSuffix(lower, ".tmp"):
		return true
	case lower == "desktop.ini" || lower == "thumbs.db" || lower == "ehthumbs.db":
		return true
	case strings.HasPrefix(name, ".") && (strings.HasSuffix(lower, ".swp") || strings.HasSuffix(lower, ".swx") || strings.HasSuffix(lower, ".swo")):
		return true
	case strings.HasPrefix(name, ".goutputstream-"):
		return true
	case name == ".DS_Store" || strings.HasPrefix(name, "._"):
		return true
	}
	return false
}

// IsOfficeDocument reports whether SharePoint may rewrite the file after
// upload (it embeds properties into Office documents), so a size or hash
// difference after upload is expected.
func IsOfficeDocument(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xltx", ".pptx", ".pptm", ".potx", ".doc", ".xls", ".ppt", ".vsdx", ".one":
		return true
	}
	return false
}

// ConflictName returns the name the local version of a conflicting file
// gets: "name (conflict from HOST YYYY-MM-DD).ext"; n > 1 adds " n".
func ConflictName(name, host string, t time.Time, n int) string {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if stem == "" {
		stem, ext = name, ""
	}
	suffix := ""
	if n > 1 {
		suffix = fmt.Sprintf(" %d", n)
	}
	host = strings.Map(func(r rune) rune {
		if strings.ContainsRune("\"*:<>?/\\|", r) {
			return '-'
		}
		return r
	}, host)
	return fmt.Sprintf("%s (conflict from %s %s%s)%s", stem, host, t.Format("2006-01-02"), suffix, ext)
}
