package graph

import (
	"strconv"
	"unicode/utf8"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// Items are encoded by hand: a listing of 10,000 items must not pay for
// reflection per field, and Graph's field order stays stable.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// selection is a parsed $select; nil selects everything.
type selection map[string]bool

// has reports whether field is selected.
func (sel selection) has(field string) bool { return sel == nil || sel[field] }

// itemView says how to render items of one response.
type itemView struct {
	sel        selection
	driveType  string
	parentPath string // "/drives/{d}/root:/a/b" for the items' parent; "" to compute per item or omit
	noPath     bool   // delta: parentReference.path is never sent
	// noCTag leaves cTag out, as delta does on OneDrive for Business and
	// SharePoint (every drive the simulator models).
	noCTag      bool
	rootID      string // the drive root's id, for tombstones
	downloadURL func(it *store.Item) string
	webURL      func(it *store.Item) string
	// remote appends a shortcut's ,"remoteItem":{...}; nil leaves it out.
	remote func(b []byte, ref *store.RemoteRef) []byte
}

func etag(it *store.Item) string {
	return `"{` + it.GUID + `},` + strconv.FormatInt(it.ETagVer, 10) + `"`
}

func ctag(it *store.Item) string {
	return `"c:{` + it.GUID + `},` + strconv.FormatInt(it.CTagVer, 10) + `"`
}

func appendIdentity(b []byte, key string, id store.Identity) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":{"user":{`...)
	first := true
	if id.Email != "" {
		b = append(b, `"email":`...)
		b = appendString(b, id.Email)
		first = false
	}
	if id.ID != "" {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b = appendString(b, id.ID)
		first = false
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"displayName":`...)
	b = appendString(b, id.DisplayName)
	return append(b, "}}"...)
}

// appendItem appends one driveItem object.
func (v *itemView) appendItem(b []byte, it *store.Item, path string) []byte {
	sel := v.sel
	b = append(b, '{')
	if it.Deleted {
		// OneDrive for Business tombstone: no name, no cTag, and often no
		// parent at all. A deleted folder names the root as its parent, the
		// other form reported from the real service (graph-contract.md,
		// Delta): clients must apply both by id.
		b = append(b, `"id":`...)
		b = appendString(b, it.ID)
		b = append(b, `,"deleted":{}`...)
		if it.Folder && !it.IsRoot() && v.rootID != "" {
			b = append(b, `,"parentReference":{"driveType":`...)
			b = appendString(b, v.driveType)
			b = append(b, `,"driveId":`...)
			b = appendString(b, it.DriveID)
			b = append(b, `,"id":`...)
			b = appendString(b, v.rootID)
			b = append(b, '}')
		}
		return append(b, '}')
	}
	if !it.Folder && it.Remote == nil && v.downloadURL != nil && (sel == nil || sel["@microsoft.graph.downloadUrl"] || sel["content.downloadUrl"]) {
		b = append(b, `"@microsoft.graph.downloadUrl":`...)
		b = appendString(b, v.downloadURL(it))
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendString(b, it.ID)
	if sel.has("createdDateTime") {
		b = append(b, `,"createdDateTime":"`...)
		b = append(b, formatTime(it.Created)...)
		b = append(b, '"')
	}
	if sel.has("eTag") {
		b = append(b, `,"eTag":`...)
		b = appendString(b, etag(it))
	}
	if sel.has("lastModifiedDateTime") {
		b = append(b, `,"lastModifiedDateTime":"`...)
		b = append(b, formatTime(it.Modified)...)
		b = append(b, '"')
	}
	if sel.has("name") {
		b = append(b, `,"name":`...)
		if it.IsRoot() {
			b = appendString(b, "root")
		} else {
			b = appendString(b, it.Name)
		}
	}
	if sel.has("webUrl") && v.webURL != nil {
		b = append(b, `,"webUrl":`...)
		b = appendString(b, v.webURL(it))
	}
	if sel.has("cTag") && !it.Folder && it.Remote == nil && !v.noCTag {
		b = append(b, `,"cTag":`...)
		b = appendString(b, ctag(it))
	}
	if sel.has("size") {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, it.Size, 10)
	}
	if sel.has("createdBy") {
		b = appendIdentity(b, "createdBy", it.CreatedBy)
	}
	if sel.has("lastModifiedBy") {
		b = appendIdentity(b, "lastModifiedBy", it.ModifiedBy)
	}
	if sel.has("parentReference") {
		b = append(b, `,"parentReference":{"driveType":`...)
		b = appendString(b, v.driveType)
		b = append(b, `,"driveId":`...)
		b = appendString(b, it.DriveID)
		if !it.IsRoot() {
			b = append(b, `,"id":`...)
			b = appendString(b, it.ParentID)
			if !v.noPath && path != "" {
				b = append(b, `,"path":`...)
				b = appendString(b, path)
			}
		}
		b = append(b, '}')
	}
	if it.Folder {
		if sel.has("folder") {
			b = append(b, `,"folder":{"childCount":`...)
			b = strconv.AppendInt(b, int64(it.ChildCount), 10)
			b = append(b, '}')
		}
		if it.IsRoot() && sel.has("root") {
			b = append(b, `,"root":{}`...)
		}
	} else if it.Remote != nil {
		// A shortcut has neither facet, only remoteItem (graph-contract.md,
		// Delta; Microsoft's "remoteItem resource type").
		if sel.has("remoteItem") && v.remote != nil {
			b = v.remote(b, it.Remote)
		}
	} else if sel.has("file") {
		b = append(b, `,"file":{"mimeType":`...)
		b = appendString(b, it.MimeType)
		b = append(b, `,"hashes":{"quickXorHash":`...)
		b = appendString(b, it.Hash)
		b = append(b, "}}"...)
	}
	if it.CheckedOutBy != nil && sel.has("publication") {
		// publicationFacet (Graph v1.0): level, versionId, checkedOutBy.
		// Sent only while checked out; clients read its absence as
		// published (docs/checkout.md).
		b = append(b, `,"publication":{"level":"checkout","versionId":"`...)
		b = strconv.AppendInt(b, it.CTagVer, 10)
		b = append(b, `.0"`...)
		b = appendIdentity(b, "checkedOutBy", *it.CheckedOutBy)
		b = append(b, '}')
	}
	if sel.has("fileSystemInfo") {
		b = append(b, `,"fileSystemInfo":{"createdDateTime":"`...)
		b = append(b, formatTime(it.FSCreated)...)
		b = append(b, `","lastModifiedDateTime":"`...)
		b = append(b, formatTime(it.FSModified)...)
		b = append(b, `"}`...)
	}
	return append(b, '}')
}

// driveType returns Graph's driveType for a directory drive.
func driveType(ref directory.DriveRef) string { return string(ref.Kind) }

// pathJoin joins a Graph parent path ("/drives/x/root:" or
// "/drives/x/root:/a") with a child name.
func pathJoin(parent, name string) string { return parent + "/" + name }
