package graph

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// target is an item address resolved in a transaction.
type target struct {
	ds      *store.Drive
	item    *store.Item // nil when the addressed path does not exist
	parent  *store.Item // the deepest existing folder on the way, when item is nil
	missing []string    // the names below parent that do not exist
}

// resolve finds the item an address names.
func resolve(tx *store.Tx, d *drive, a itemAddr) (*target, error) {
	ds, err := tx.Drive(d.ref.Drive.ID)
	if err != nil {
		return nil, err
	}
	t := &target{ds: ds}
	id := a.base
	if id == "root" {
		id = ds.RootID
	}
	it, err := tx.Item(id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (it.Deleted || it.DriveID != ds.ID)) {
		return nil, errNotFound("item")
	}
	if err != nil {
		return nil, err
	}
	for i, name := range a.path {
		if !it.Folder {
			return nil, errNotFound("item")
		}
		ch, err := tx.Child(it.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			t.parent, t.missing = it, a.path[i:]
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		it = ch
	}
	t.item = it
	return t, nil
}

// existing returns the addressed item or 404.
func (t *target) existing() (*store.Item, error) {
	if t.item == nil {
		return nil, errNotFound("item")
	}
	return t.item, nil
}

// folderPath returns the Graph path of a folder: "/drives/{d}/root:" for
// the root, "/drives/{d}/root:/a/b" below it.
func folderPath(tx *store.Tx, f *store.Item) (string, error) {
	var names []string
	for it := f; !it.IsRoot(); {
		names = append(names, it.Name)
		p, err := tx.Item(it.ParentID)
		if err != nil {
			return "", err
		}
		it = p
	}
	slices.Reverse(names)
	return "/drives/" + f.DriveID + "/root:" + joinPath(names), nil
}

func joinPath(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "/" + strings.Join(names, "/")
}

// parentPath returns the Graph path of an item's parent ("" for the root).
func parentPath(tx *store.Tx, it *store.Item) (string, error) {
	if it.IsRoot() {
		return "", nil
	}
	p, err := tx.Item(it.ParentID)
	if err != nil {
		return "", err
	}
	return folderPath(tx, p)
}

// view returns the renderer for items of drive d, read in tx.
func (s *Server) view(tx *store.Tx, d *drive, sel selection) *itemView {
	web := s.driveWebURL(d.ref)
	return &itemView{
		sel:         sel,
		driveType:   driveType(d.ref),
		downloadURL: s.downloadURL,
		webURL: func(it *store.Item) string {
			return web // refined per item by callers that know the path
		},
		remote: func(b []byte, ref *store.RemoteRef) []byte { return s.appendRemoteItem(tx, b, ref) },
	}
}

// appendRemoteItem appends a shortcut's remoteItem facet: the target's id
// and drive, and, while the target exists, its name, size, folder facet and
// webUrl, as "Add shortcut to My files" shows them (Microsoft Graph,
// "remoteItem resource type").
func (s *Server) appendRemoteItem(tx *store.Tx, b []byte, ref *store.RemoteRef) []byte {
	b = append(b, `,"remoteItem":{"id":`...)
	b = appendString(b, ref.ID)
	dref, known := s.dir.Drive(ref.DriveID)
	target, err := tx.Item(ref.ID)
	live := known && err == nil && !target.Deleted && target.DriveID == ref.DriveID
	if live {
		name := target.Name
		if target.IsRoot() {
			name = dref.Drive.Name // a shortcut to a whole library
		}
		b = append(b, `,"name":`...)
		b = appendString(b, name)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, target.Size, 10)
		b = append(b, `,"lastModifiedDateTime":"`...)
		b = append(b, formatTime(target.Modified)...)
		b = append(b, '"')
		if target.Folder {
			b = append(b, `,"folder":{"childCount":`...)
			b = strconv.AppendInt(b, int64(target.ChildCount), 10)
			b = append(b, '}')
		}
		web := s.driveWebURL(dref)
		if !target.IsRoot() {
			if fp, err := folderPath(tx, target); err == nil {
				web += escapePathForURL(strings.TrimPrefix(fp, "/drives/"+ref.DriveID+"/root:"))
			}
		}
		b = append(b, `,"webUrl":`...)
		b = appendString(b, web)
	}
	b = append(b, `,"parentReference":{"driveId":`...)
	b = appendString(b, ref.DriveID)
	if known {
		b = append(b, `,"driveType":`...)
		b = appendString(b, driveType(dref))
	}
	if live && !target.IsRoot() {
		b = append(b, `,"id":`...)
		b = appendString(b, target.ParentID)
	}
	return append(b, "}}"...)
}

// renderItem renders one item with its parent path.
func (s *Server) renderItem(tx *store.Tx, d *drive, it *store.Item, sel selection, context bool) ([]byte, error) {
	pp, err := parentPath(tx, it)
	if err != nil {
		return nil, err
	}
	v := s.view(tx, d, sel)
	web := s.driveWebURL(d.ref)
	if !it.IsRoot() {
		web += escapePathForURL(strings.TrimPrefix(pp, "/drives/"+it.DriveID+"/root:") + "/" + it.Name)
	}
	v.webURL = func(*store.Item) string { return web }
	b := make([]byte, 0, 1024)
	if context {
		b = append(b, `{"@odata.context":`...)
		b = appendString(b, s.base+"/v1.0/$metadata#drives('"+it.DriveID+"')/items/$entity")
		b = append(b, ',')
		body := v.appendItem(nil, it, pp)
		b = append(b, body[1:]...)
		return b, nil
	}
	return v.appendItem(b, it, pp), nil
}

func escapePathForURL(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// driveWebURL is the browser URL of a drive's root.
func (s *Server) driveWebURL(ref directory.DriveRef) string {
	switch ref.Kind {
	case directory.KindBusiness:
		host := ref.Tenant.Name + "-my.sharepoint.com"
		upn := ref.Tenant.UPN(ref.Owner)
		return "https://" + host + "/personal/" + strings.NewReplacer("@", "_", ".", "_").Replace(upn) + "/Documents"
	default:
		lib := ref.Drive.Name
		if lib == "Documents" {
			lib = "Shared Documents"
		}
		return ref.Tenant.SiteURL(ref.Site) + "/" + url.PathEscape(lib)
	}
}

const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

func writeValue(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSON(w, status, b)
}

// checkIfMatch applies If-Match (412) and validates its syntax (400).
func checkIfMatch(r *http.Request, it *store.Item) error {
	h := r.Header.Get("If-Match")
	if h == "" {
		return nil
	}
	if !validETag(h) {
		return errorf(http.StatusBadRequest, "malformedEntityTag", "The If-Match header is not a valid entity tag.")
	}
	if it == nil || !etagMatches(h, etag(it), ctagOrEmpty(it)) {
		return errModified()
	}
	return nil
}

func ctagOrEmpty(it *store.Item) string {
	if it.Folder {
		return ""
	}
	return ctag(it)
}

// checkIfNoneMatch validates If-None-Match and reports whether it matches.
func checkIfNoneMatch(r *http.Request, tags ...string) (bool, error) {
	h := r.Header.Get("If-None-Match")
	if h == "" {
		return false, nil
	}
	if !validETag(h) {
		return false, errorf(http.StatusBadRequest, "malformedEntityTag", "The If-None-Match header is not a valid entity tag.")
	}
	return etagMatches(h, tags...), nil
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	q := r.URL.Query()
	sel, err := parseSelect(q.Get("$select"))
	if err != nil {
		return err
	}
	expand := strings.TrimSpace(q.Get("$expand"))
	var body []byte
	var it *store.Item
	var notModified bool
	err = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		if it, err = t.existing(); err != nil {
			return err
		}
		if notModified, err = checkIfNoneMatch(r, etag(it)); err != nil || notModified {
			return err
		}
		if err := checkIfMatch(r, it); err != nil {
			return err
		}
		body, err = s.renderItem(tx, d, it, sel, true)
		if err != nil || !strings.HasPrefix(expand, "children") || !it.Folder {
			return err
		}
		// $expand=children: the first page of children.
		fp, err := folderPath(tx, it)
		if err != nil {
			return err
		}
		v := s.view(tx, d, nil)
		kids := make([]byte, 0, 4096)
		kids = append(kids, `,"children":[`...)
		n := 0
		err = tx.Children(it.ID, "", false, func(ch *store.Item) bool {
			if n > 0 {
				kids = append(kids, ',')
			}
			kids = v.appendItem(kids, ch, fp)
			n++
			return n < s.page
		})
		kids = append(kids, "]}"...)
		body = append(body[:len(body)-1], kids...)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(it))
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, body)
}

func listingTag(f *store.Item) string {
	return `"{` + f.GUID + `},L` + strconv.FormatInt(f.ChildVer, 10) + `"`
}

func (s *Server) listChildren(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	q := r.URL.Query()
	sel, err := parseSelect(q.Get("$select"))
	if err != nil {
		return err
	}
	top, err := parseTop(q.Get("$top"), s.page)
	if err != nil {
		return err
	}
	ob, err := parseOrderBy(q.Get("$orderby"))
	if err != nil {
		return err
	}
	skip := q.Get("$skiptoken")
	if skip == "" {
		skip = q.Get("$skipToken")
	}
	var after string
	var offset int
	if skip != "" {
		raw, err := base64.RawURLEncoding.DecodeString(skip)
		if err != nil || len(raw) < 2 || raw[1] != ':' {
			return errInvalid("The $skiptoken is invalid.")
		}
		switch raw[0] {
		case 'k':
			after = string(raw[2:])
		case 'o':
			if offset, err = strconv.Atoi(string(raw[2:])); err != nil || offset < 0 {
				return errInvalid("The $skiptoken is invalid.")
			}
		default:
			return errInvalid("The $skiptoken is invalid.")
		}
	}
	var body []byte
	var tag string
	var notModified bool
	err = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		f, err := t.existing()
		if err != nil {
			return err
		}
		if !f.Folder {
			return errInvalid("The item is not a folder.")
		}
		tag = listingTag(f)
		if skip == "" {
			if notModified, err = checkIfNoneMatch(r, tag); err != nil || notModified {
				return err
			}
		}
		fp, err := folderPath(tx, f)
		if err != nil {
			return err
		}
		v := s.view(tx, d, sel)
		web := s.driveWebURL(d.ref) + escapePathForURL(strings.TrimPrefix(fp, "/drives/"+f.DriveID+"/root:"))
		v.webURL = func(it *store.Item) string { return web + "/" + url.PathEscape(it.Name) }
		b := make([]byte, 0, 64+min(top, f.ChildCount+1)*900)
		b = append(b, `{"@odata.context":`...)
		b = appendString(b, s.base+"/v1.0/$metadata#drives('"+f.DriveID+"')/items('"+f.ID+"')/children")
		b = append(b, `,"value":[`...)
		n := 0
		var next string
		emit := func(ch *store.Item) {
			if n > 0 {
				b = append(b, ',')
			}
			b = v.appendItem(b, ch, fp)
			n++
		}
		if ob.field == "name" && offset == 0 {
			var last *store.Item
			more := false
			err = tx.Children(f.ID, after, ob.desc, func(ch *store.Item) bool {
				if n == top {
					more = true
					return false
				}
				emit(ch)
				last = ch
				return true
			})
			if more {
				next = "k:" + store.SortKey(last)
			}
		} else {
			var all []*store.Item
			err = tx.Children(f.ID, "", false, func(ch *store.Item) bool { all = append(all, ch); return true })
			slices.SortStableFunc(all, func(x, y *store.Item) int {
				var c int
				switch ob.field {
				case "size":
					c = cmpInt(x.Size, y.Size)
				case "lastModifiedDateTime":
					c = x.Modified.Compare(y.Modified)
				default:
					c = strings.Compare(store.SortKey(x), store.SortKey(y))
				}
				if ob.desc {
					c = -c
				}
				return c
			})
			end := min(offset+top, len(all))
			for _, ch := range all[min(offset, len(all)):end] {
				emit(ch)
			}
			if end < len(all) {
				next = "o:" + strconv.Itoa(end)
			}
		}
		if err != nil {
			return err
		}
		b = append(b, ']')
		if next != "" {
			nq := r.URL.Query()
			nq.Del("$skipToken")
			nq.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(next)))
			b = append(b, `,"@odata.nextLink":`...)
			b = appendString(b, s.base+r.URL.EscapedPath()+"?"+nq.Encode())
		}
		body = append(b, '}')
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", tag)
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, body)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// who is the caller as a store identity.
func who(c *call) store.Identity {
	id, name, email := c.identity()
	return store.Identity{ID: id, DisplayName: name, Email: email}
}

// newItem returns a fresh item under parentID.
func (s *Server) newItem(ds *store.Drive, parentID, name string, folder bool, by store.Identity) *store.Item {
	now := s.now().UTC().Truncate(time.Second)
	it := &store.Item{
		ID: store.NewItemID(), DriveID: ds.ID, ParentID: parentID, Name: name, Folder: folder,
		GUID: store.NewGUID(), ETagVer: 1, CTagVer: 1,
		Created: now, Modified: now, FSCreated: now, FSModified: now, CreatedBy: by, ModifiedBy: by,
	}
	if !folder {
		it.MimeType = mimeType(name)
	}
	return it
}

func mimeType(name string) string {
	t := mime.TypeByExtension(strings.ToLower(path.Ext(name)))
	if t == "" {
		return "application/octet-stream"
	}
	t, _, _ = strings.Cut(t, ";")
	return t
}

// ensureFolders creates the missing folders names below parent and returns
// the last one.
func (s *Server) ensureFolders(tx *store.Tx, ds *store.Drive, parent *store.Item, names []string, by store.Identity) (*store.Item, error) {
	for _, n := range names {
		f := s.newItem(ds, parent.ID, n, true, by)
		if err := tx.Save(ds, nil, f); err != nil {
			return nil, err
		}
		parent = f
	}
	return parent, nil
}

// placeName applies a conflict behaviour for a new item called name under
// parentID: it returns the name to use and, for "replace", the item to
// replace.
func placeName(tx *store.Tx, parentID, name, behavior string) (string, *store.Item, error) {
	ex, err := tx.Child(parentID, name)
	if errors.Is(err, store.ErrNotFound) {
		return name, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	switch behavior {
	case "replace":
		return name, ex, nil
	case "rename":
		base, ext := name, ""
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			base, ext = name[:i], name[i:]
		}
		for n := 1; ; n++ {
			cand := base + " " + strconv.Itoa(n) + ext
			if _, err := tx.Child(parentID, cand); errors.Is(err, store.ErrNotFound) {
				return cand, nil, nil
			} else if err != nil {
				return "", nil, err
			}
		}
	default:
		return "", nil, errNameExists(name)
	}
}

func conflictBehavior(v, def string) (string, error) {
	switch v {
	case "":
		return def, nil
	case "fail", "replace", "rename":
		return v, nil
	}
	return "", errInvalid("Invalid value for @microsoft.graph.conflictBehavior.")
}

// deleteTree moves it and everything below it to the recycle bin, deepest
// first so that folder sizes stay right.
func (s *Server) deleteTree(tx *store.Tx, ds *store.Drive, it *store.Item, now time.Time, by store.Identity) error {
	if it.Folder {
		var kids []string
		if err := tx.Children(it.ID, "", false, func(ch *store.Item) bool { kids = append(kids, ch.ID); return true }); err != nil {
			return err
		}
		for _, id := range kids {
			ch, err := tx.Item(id)
			if err != nil {
				return err
			}
			if err := s.deleteTree(tx, ds, ch, now, by); err != nil {
				return err
			}
		}
	}
	cur, err := tx.Item(it.ID)
	if err != nil {
		return err
	}
	del := *cur
	del.Deleted, del.DeletedAt, del.ModifiedBy = true, now, by
	return tx.Save(ds, cur, &del)
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	err := s.updateExisting(d, a, func(tx *store.Tx, t *target, it *store.Item) error {
		if err := checkLock(c, d, it, false); err != nil {
			return err
		}
		if err := checkIfMatch(r, it); err != nil {
			return err
		}
		if it.IsRoot() {
			return errorf(http.StatusForbidden, "notAllowed", "The root folder cannot be deleted.")
		}
		if err := s.deleteTree(tx, t.ds, it, s.now().UTC(), who(c)); err != nil {
			return err
		}
		return tx.PutDrive(t.ds)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// updateExisting runs fn in a write transaction on the existing item a
// addresses.
func (s *Server) updateExisting(d *drive, a itemAddr, fn func(tx *store.Tx, t *target, it *store.Item) error) error {
	return s.st.Update(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		it, err := t.existing()
		if err != nil {
			return err
		}
		return fn(tx, t, it)
	})
}

// decodeBody decodes a JSON request body into v (400 on bad JSON).
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return errInvalid("The request body is not valid JSON.")
	}
	return nil
}

type patchBody struct {
	Name            *string `json:"name"`
	ParentReference *struct {
		ID      string `json:"id"`
		DriveID string `json:"driveId"`
		Path    string `json:"path"`
	} `json:"parentReference"`
	FileSystemInfo *struct {
		CreatedDateTime      *time.Time `json:"createdDateTime"`
		LastModifiedDateTime *time.Time `json:"lastModifiedDateTime"`
	} `json:"fileSystemInfo"`
	Conflict string `json:"@microsoft.graph.conflictBehavior"`
}

func (s *Server) patchItem(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	var body patchBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	behavior, err := conflictBehavior(firstNonEmpty(r.URL.Query().Get("@microsoft.graph.conflictBehavior"), body.Conflict), "fail")
	if err != nil {
		return err
	}
	if body.Name != nil {
		if err := newName(*body.Name); err != nil {
			return err
		}
	}
	var out []byte
	err = s.st.Update(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		it, err := t.existing()
		if err != nil {
			return err
		}
		if err := checkLock(c, d, it, false); err != nil {
			return err
		}
		if err := checkIfMatch(r, it); err != nil {
			return err
		}
		nu := *it
		if body.ParentReference != nil || body.Name != nil {
			if it.IsRoot() {
				return errInvalid("The root folder cannot be renamed or moved.")
			}
		}
		if pr := body.ParentReference; pr != nil {
			if pr.DriveID != "" && pr.DriveID != it.DriveID {
				return errInvalid("Moving items between drives is not supported.")
			}
			var np *store.Item
			switch {
			case pr.ID != "":
				np, err = tx.Item(pr.ID)
				if err != nil || np.Deleted || np.DriveID != it.DriveID {
					return errorf(http.StatusBadRequest, "invalidRequest", "The destination folder does not exist.")
				}
			case pr.Path != "":
				p := strings.TrimPrefix(pr.Path, "/drive/root:")
				p = strings.TrimPrefix(p, "/drives/"+it.DriveID+"/root:")
				segs, err := splitPath(p)
				if err != nil {
					return err
				}
				np, err = resolvePath(tx, t.ds.RootID, segs)
				if err != nil {
					return err
				}
			}
			if np != nil {
				if !np.Folder {
					return errInvalid("The destination is not a folder.")
				}
				for anc := np; ; {
					if anc.ID == it.ID {
						return errInvalid("A folder cannot be moved into itself.")
					}
					if anc.IsRoot() {
						break
					}
					if anc, err = tx.Item(anc.ParentID); err != nil {
						return err
					}
				}
				nu.ParentID = np.ID
			}
		}
		if body.Name != nil {
			nu.Name = *body.Name
		}
		if nu.ParentID != it.ParentID || nu.Name != it.Name {
			np, err := tx.Item(nu.ParentID)
			if err != nil {
				return err
			}
			deeper, err := deepestBelow(tx, it)
			if err != nil {
				return err
			}
			if err := s.checkPathLen(tx, d, np, deeper, nu.Name); err != nil {
				return err
			}
			if it.Folder {
				if err := newRootFolderName(np, nu.Name); err != nil {
					return err
				}
			}
			ex, err := tx.Child(nu.ParentID, nu.Name)
			if err == nil && ex.ID != it.ID {
				switch behavior {
				case "replace":
					if err := s.deleteTree(tx, t.ds, ex, s.now().UTC(), who(c)); err != nil {
						return err
					}
				case "rename":
					if nu.Name, _, err = placeName(tx, nu.ParentID, nu.Name, "rename"); err != nil {
						return err
					}
				default:
					return errNameExists(nu.Name)
				}
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if fsi := body.FileSystemInfo; fsi != nil {
			if fsi.CreatedDateTime != nil {
				nu.FSCreated = fsi.CreatedDateTime.UTC().Truncate(time.Second)
			}
			if fsi.LastModifiedDateTime != nil {
				nu.FSModified = fsi.LastModifiedDateTime.UTC().Truncate(time.Second)
			}
		}
		nu.ETagVer++
		nu.Modified = s.now().UTC().Truncate(time.Second)
		nu.ModifiedBy = who(c)
		if err := tx.Save(t.ds, it, &nu); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errNameExists(nu.Name)
			}
			return err
		}
		if err := tx.PutDrive(t.ds); err != nil {
			return err
		}
		out, err = s.renderItem(tx, d, &nu, nil, true)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func resolvePath(tx *store.Tx, rootID string, segs []string) (*store.Item, error) {
	it, err := tx.Item(rootID)
	if err != nil {
		return nil, err
	}
	for _, n := range segs {
		if it, err = tx.Child(it.ID, n); err != nil {
			return nil, errInvalid("The destination folder does not exist.")
		}
	}
	return it, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *Server) createChild(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	var body struct {
		Name       string           `json:"name"`
		Folder     *json.RawMessage `json:"folder"`
		File       *json.RawMessage `json:"file"`
		Conflict   string           `json:"@microsoft.graph.conflictBehavior"`
		ConflictV1 string           `json:"@name.conflictBehavior"`
		Remote     *struct {
			ID        string `json:"id"`
			ParentRef struct {
				DriveID string `json:"driveId"`
			} `json:"parentReference"`
		} `json:"remoteItem"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	var remote *store.RemoteRef
	if body.Remote != nil {
		var err error
		if remote, err = s.shortcutTarget(c, d, body.Remote.ParentRef.DriveID, body.Remote.ID); err != nil {
			return err
		}
	} else if body.Folder == nil {
		return errInvalid("Only folders can be created this way; upload files with PUT .../content.")
	}
	if err := newName(body.Name); err != nil {
		return err
	}
	behavior, err := conflictBehavior(firstNonEmpty(r.URL.Query().Get("@microsoft.graph.conflictBehavior"), body.Conflict, body.ConflictV1), "fail")
	if err != nil {
		return err
	}
	var out []byte
	err = s.st.Update(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		parent, err := t.existing()
		if err != nil {
			return err
		}
		if !parent.Folder {
			return errInvalid("The parent is not a folder.")
		}
		if err := newRootFolderName(parent, body.Name); err != nil {
			return err
		}
		if err := s.checkPathLen(tx, d, parent, 0, body.Name); err != nil {
			return err
		}
		name, ex, err := placeName(tx, parent.ID, body.Name, behavior)
		if err != nil {
			return err
		}
		if ex != nil {
			if err := s.deleteTree(tx, t.ds, ex, s.now().UTC(), who(c)); err != nil {
				return err
			}
		}
		f := s.newItem(t.ds, parent.ID, name, remote == nil, who(c))
		if remote != nil {
			if !parent.IsRoot() {
				return errInvalid("A shared folder can only be added to the root of the user's drive.")
			}
			if target, err := tx.Item(remote.ID); err != nil || target.Deleted || target.DriveID != remote.DriveID || !target.Folder {
				return errInvalid("The remote item must be a folder the caller can reach.")
			}
			f.Remote, f.MimeType = remote, ""
		}
		if err := tx.Save(t.ds, nil, f); err != nil {
			return err
		}
		if err := tx.PutDrive(t.ds); err != nil {
			return err
		}
		out, err = s.renderItem(tx, d, f, nil, true)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

// shortcutTarget checks a request to add a shortcut to a folder of another
// drive ("Using remote items to access shared files and folders", OneDrive
// API docs): it is POSTed to the root's children of the caller's own
// OneDrive, driveId and id are required, and the caller must reach the
// target drive.
func (s *Server) shortcutTarget(c *call, d *drive, driveID, id string) (*store.RemoteRef, error) {
	if driveID == "" || id == "" {
		return nil, errInvalid("remoteItem needs id and parentReference.driveId.")
	}
	if !d.own {
		return nil, errInvalid("A shared folder can only be added to the root of the user's own drive.")
	}
	if driveID == d.ref.Drive.ID {
		return nil, errInvalid("The remote item must be in another drive.")
	}
	if _, err := s.openDrive(c, driveID); err != nil {
		return nil, err
	}
	return &store.RemoteRef{DriveID: driveID, ID: id}, nil
}
