package vfs

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// MaxPathLen is the longest drive-relative path SharePoint accepts.
const MaxPathLen = 400

// reservedNames are refused by OneDrive and SharePoint, with or without an
// extension (https://support.microsoft.com/office/64883a5d-228e-48f5-b3d2-eb39e07630fa).
var reservedNames = func() map[string]bool {
	m := map[string]bool{"con": true, "prn": true, "aux": true, "nul": true}
	for i := '0'; i <= '9'; i++ {
		m["com"+string(i)] = true
		m["lpt"+string(i)] = true
	}
	return m
}()

// ValidateName reports, as an error wrapping ErrInvalidName, why SharePoint
// would refuse name as a file or folder name; nil when it is accepted.
// Local-only names (IsLocalOnly) are never sent and need no validation.
func ValidateName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidName, why) }
	switch {
	case name == "" || name == "." || name == "..":
		return bad("empty name")
	case strings.ContainsAny(name, "\"*:<>?/\\|"):
		return bad(`contains one of " * : < > ? / \ |`)
	case strings.TrimSpace(name) != name:
		return bad("leading or trailing space")
	case strings.HasSuffix(name, "."):
		return bad("trailing dot")
	case strings.Contains(strings.ToLower(name), "_vti_"):
		return bad("contains _vti_")
	}
	lower := strings.ToLower(name)
	stem, _, _ := strings.Cut(lower, ".")
	if reservedNames[stem] {
		return bad("reserved device name")
	}
	if lower == ".lock" || lower == "desktop.ini" || strings.HasPrefix(lower, "~$") {
		return bad("reserved name")
	}
	for _, r := range name {
		if r < 0x20 {
			return bad("control character")
		}
	}
	return nil
}

// ValidatePath checks every component of a drive-relative path and its
// length.
func ValidatePath(p string) error {
	p = strings.TrimPrefix(p, "/")
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path longer than %d characters", ErrInvalidName, MaxPathLen)
	}
	return ValidateName(path.Base(p))
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
