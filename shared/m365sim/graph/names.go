package graph

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// The name and path rules of OneDrive for Business and SharePoint, from
// Microsoft's "Restrictions and limitations in OneDrive and SharePoint"
// (https://support.microsoft.com/office/64883a5d-228e-48f5-b3d2-eb39e07630fa,
// sections "Invalid file names and file types" and "File name and path
// lengths"). graph-contract.md lists the error codes (Errors); these rules
// come from that page.
//
// validName (parse.go) holds the character rules, which apply to every
// name in a URL. The rules below apply only where an item gets a new name
// (upload, create folder, rename, move, copy): a reserved name cannot
// exist, so a GET for one simply finds nothing.

// maxPathChars is the longest decoded path SharePoint stores. It counts
// the whole server-relative path, the library's own part included
// ("/sites/Finance/Shared Documents/a/b.txt", or
// "/personal/alice_contoso_com/Documents/a/b.txt"): the Microsoft page says
// "the entire decoded file path, including the file name", and it is the
// server-relative URL that SharePoint measures (decoded: %20 is one
// character; a character is a Unicode code point).
const maxPathChars = 400

// reservedNames are refused as a whole name, in any letter case. The page
// lists names, not stems: "CON.txt" is a valid name in SharePoint (only
// Windows refuses it, in its own API).
var reservedNames = func() map[string]bool {
	m := map[string]bool{".lock": true, "con": true, "prn": true, "aux": true, "nul": true, "desktop.ini": true}
	for c := '0'; c <= '9'; c++ {
		m["com"+string(c)] = true
		m["lpt"+string(c)] = true
	}
	return m
}()

// errReservedName is how OneDrive for Business answers a reserved name:
// a bare 400 invalidRequest with no inner code
// (OneDrive/onedrive-api-docs#1653, "_vti_" in a name: "invalidRequest:
// Invalid request").
func errReservedName() *apiError {
	return errorf(http.StatusBadRequest, "invalidRequest", "Invalid request")
}

// errPathTooLong is 400 invalidRequest with the inner code pathIsTooLong,
// the detailed code of OneDrive's error list that clients see for the
// 400-character limit (rclone's onedrive backend stops retrying on it).
func errPathTooLong() *apiError {
	return errorf(http.StatusBadRequest, "invalidRequest", "The path is longer than %d characters.", maxPathChars).
		withInner("pathIsTooLong")
}

// newName checks a name an item is about to get: the character rules,
// then the reserved names, "_vti_" anywhere, and a leading "~$" (the
// Office owner files that SharePoint keeps to itself).
func newName(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	lower := strings.ToLower(name)
	if reservedNames[lower] || strings.Contains(lower, "_vti_") || strings.HasPrefix(name, "~$") {
		return errReservedName()
	}
	return nil
}

// newRootFolderName checks the name of a folder about to be made (or
// moved) directly under a library's root: the Microsoft page says
// "'forms' isn't supported when the folder is at the root level for a
// library", because every library keeps its hidden Forms folder there.
// Files of that name, and folders of that name further down, are fine.
func newRootFolderName(parent *store.Item, name string) error {
	if parent != nil && parent.IsRoot() && strings.EqualFold(name, "forms") {
		return errReservedName()
	}
	return nil
}

// newPathFolders checks the folders an upload by path creates under
// parent (every missing segment but the last, which is the file).
func newPathFolders(parent *store.Item, missing []string) error {
	if len(missing) > 1 {
		return newRootFolderName(parent, missing[0])
	}
	return nil
}

// libraryPathChars is the length of the decoded server-relative path of
// d's root, which the 400 characters include. It follows from the drive's
// web URL, so a site or library with a longer URL leaves less room, as in
// SharePoint.
func (s *Server) libraryPathChars(d *drive) int {
	u, err := url.Parse(s.driveWebURL(d.ref))
	if err != nil {
		return 0
	}
	return utf8.RuneCountInString(strings.TrimRight(u.Path, "/"))
}

// checkPathLen refuses an item named names below folder f (and, for a
// folder that is moved, deeper more characters below it) when its decoded
// path would pass maxPathChars.
func (s *Server) checkPathLen(tx *store.Tx, d *drive, f *store.Item, deeper int, names ...string) error {
	fp, err := folderPath(tx, f)
	if err != nil {
		return err
	}
	n := s.libraryPathChars(d) + utf8.RuneCountInString(strings.TrimPrefix(fp, "/drives/"+f.DriveID+"/root:")) + deeper
	for _, name := range names {
		n += 1 + utf8.RuneCountInString(name)
	}
	if n > maxPathChars {
		return errPathTooLong()
	}
	return nil
}

// deepestBelow returns the length, in characters, of the longest path
// below folder it, relative to it ("/a/b.txt" counts 8); 0 for a file or
// an empty folder.
func deepestBelow(tx *store.Tx, it *store.Item) (int, error) {
	if !it.Folder {
		return 0, nil
	}
	var kids []*store.Item
	if err := tx.Children(it.ID, "", false, func(ch *store.Item) bool { kids = append(kids, ch); return true }); err != nil {
		return 0, err
	}
	longest := 0
	for _, ch := range kids {
		below, err := deepestBelow(tx, ch)
		if err != nil {
			return 0, err
		}
		longest = max(longest, 1+utf8.RuneCountInString(ch.Name)+below)
	}
	return longest, nil
}
