package graph

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// downloadURL returns a pre-authenticated URL for the item's content. It
// is signed, names the item and the URL generation, and expires after the
// configured lifetime. Like a real download.aspx URL it names no content
// version: it serves whatever the content is when it is used
// (graph-contract.md, "Download").
func (s *Server) downloadURL(it *store.Item) string {
	exp := s.now().Add(s.ttl).Unix()
	payload := it.ID + "|" + strconv.FormatInt(exp, 10) + "|" + strconv.FormatUint(s.urlGen.Load(), 10)
	return s.base + "/_download/" + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.sign([]byte(payload)))
}

func errURLExpired() *apiError {
	return errorf(http.StatusUnauthorized, "unauthenticated", "The pre-authenticated download URL has expired or is not valid.")
}

// serveDownload serves a pre-authenticated download URL, honouring Range.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request, tok string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed()
	}
	p64, m64, ok := strings.Cut(tok, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(payload)) {
		return errURLExpired()
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 3 {
		return errURLExpired()
	}
	exp, err2 := strconv.ParseInt(f[1], 10, 64)
	gen, err3 := strconv.ParseUint(f[2], 10, 64)
	if err2 != nil || err3 != nil || gen != s.urlGen.Load() || s.now().Unix() > exp {
		return errURLExpired()
	}
	var it *store.Item
	err := s.st.View(func(tx *store.Tx) error {
		var err error
		it, err = tx.Item(f[0])
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && (it.Deleted || it.Folder)) {
		return errNotFound("item")
	}
	if err != nil {
		return err
	}
	file, err := s.st.OpenBlob(it.Blob)
	if err != nil {
		return err
	}
	defer file.Close()
	h := w.Header()
	h.Set("Content-Type", it.MimeType)
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(it.Name))
	h.Set("ETag", ctag(it))
	h.Set("Accept-Ranges", "bytes")
	osf, isFile := file.(*os.File)
	if isFile && r.Method == http.MethodGet && plainGet(r) {
		// The common case, a whole download: copy in 1 MiB blocks, one read
		// syscall each, without ServeContent's 32 KiB copies.
		h.Set("Content-Length", strconv.FormatInt(it.Size, 10))
		h.Set("Last-Modified", it.Modified.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		io.CopyBuffer(writerOnly{w}, osf, make([]byte, readAheadSize))
		return nil
	}
	var content io.ReadSeeker = file
	if isFile {
		content = &readAhead{f: osf, buf: make([]byte, readAheadSize)}
	}
	http.ServeContent(w, r, "", it.Modified, content)
	return nil
}

// plainGet reports whether r has no Range or conditional headers, so that
// ServeContent's handling of them is not needed.
func plainGet(r *http.Request) bool {
	for _, k := range []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if r.Header.Get(k) != "" {
			return false
		}
	}
	return true
}

// writerOnly hides a ResponseWriter's ReadFrom, whose 32 KiB buffer would
// override the copy's.
type writerOnly struct{ io.Writer }

const readAheadSize = 1 << 20

// readAhead reads its file in large blocks while ServeContent copies in
// small ones: one read syscall per MiB instead of per 32 KiB, which
// matters for multi-GB/s downloads over TLS.
type readAhead struct {
	f    *os.File
	buf  []byte
	r, w int // buf[r:w] is unread data
}

func (ra *readAhead) Read(p []byte) (int, error) {
	if ra.r == ra.w {
		if len(p) >= len(ra.buf) {
			return ra.f.Read(p)
		}
		n, err := ra.f.Read(ra.buf)
		ra.r, ra.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, ra.buf[ra.r:ra.w])
	ra.r += n
	return n, nil
}

func (ra *readAhead) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekCurrent {
		off -= int64(ra.w - ra.r)
	}
	ra.r, ra.w = 0, 0
	return ra.f.Seek(off, whence)
}

// getContent answers /content with a redirect to a download URL.
func (s *Server) getContent(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	var it *store.Item
	var notModified bool
	err := s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		if it, err = t.existing(); err != nil {
			return err
		}
		if it.Folder || it.Remote != nil {
			return errInvalid("A folder has no content.")
		}
		if notModified, err = checkIfNoneMatch(r, etag(it), ctag(it)); err != nil {
			return err
		}
		return checkIfMatch(r, it)
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(it))
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Location", s.downloadURL(it))
	w.WriteHeader(http.StatusFound)
	return nil
}

// remaining is the drive's free quota.
func (s *Server) remaining(d *drive, ds *store.Drive) int64 {
	return int64(d.ref.Drive.Quota) - ds.Used
}

// putContent is the simple upload: a new file (201) or replaced content
// (200), up to 250 MB.
func (s *Server) putContent(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	behavior, err := conflictBehavior(r.URL.Query().Get("@microsoft.graph.conflictBehavior"), "replace")
	if err != nil {
		return err
	}
	if r.ContentLength > simpleUploadLimit {
		return errorf(http.StatusRequestEntityTooLarge, "invalidRequest", "The request is larger than 250 MB; use an upload session.")
	}
	for _, h := range []string{"If-Match", "If-None-Match"} {
		if v := r.Header.Get(h); v != "" && !validETag(v) {
			return errorf(http.StatusBadRequest, "malformedEntityTag", "The %s header is not a valid entity tag.", h)
		}
	}
	// Cheap checks before reading the body.
	err = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		if t.item != nil && t.item.Folder {
			return errInvalid("The target is a folder.")
		}
		if t.item == nil && !a.hasPath {
			return errNotFound("item")
		}
		if t.item == nil && t.parent != nil {
			for _, n := range t.missing {
				if err := newName(n); err != nil {
					return err
				}
			}
			if err := newPathFolders(t.parent, t.missing); err != nil {
				return err
			}
			if err := s.checkPathLen(tx, d, t.parent, 0, t.missing...); err != nil {
				return err
			}
		}
		if t.item != nil && behavior != "rename" {
			if err := checkLock(c, d, t.item, true); err != nil {
				return err
			}
			if err := checkIfMatch(r, t.item); err != nil {
				return err
			}
			if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag(t.item), ctag(t.item)) {
				return errModified()
			}
		} else if r.Header.Get("If-Match") != "" && behavior != "rename" {
			return errModified()
		}
		old := int64(0)
		if t.item != nil && behavior == "replace" {
			old = t.item.Size
		}
		if r.ContentLength >= 0 && r.ContentLength-old > s.remaining(d, t.ds) {
			return errQuota()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range a.path {
		if err := validName(n); err != nil {
			return err
		}
	}
	info, err := s.st.WriteBlob(r.Body, simpleUploadLimit, r.ContentLength)
	if errors.Is(err, store.ErrTooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, "invalidRequest", "The request is larger than 250 MB; use an upload session.")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errInvalid("The request body is shorter than its Content-Length.")
	}
	if err != nil {
		return err
	}
	status, out, err := s.commitContent(r, c, d, a, info, behavior, store.Session{})
	if err != nil {
		s.st.RemoveBlob(info.Name)
		return err
	}
	return writeJSON(w, status, out)
}

// commitContent installs a written blob as the content of the addressed
// item (replacing it, or creating it and any missing folders). sess
// carries the file system times an upload session declared. A library
// seeded to rewrite Office documents does so here (see officeRewrite).
func (s *Server) commitContent(r *http.Request, c *call, d *drive, a itemAddr, info store.BlobInfo, behavior string, sess store.Session) (int, []byte, error) {
	mode := d.ref.Drive.RewriteOffice
	if mode == "" || !isOfficeDocument(s.targetName(d, a)) {
		return s.commitBlob(r, c, d, a, info, behavior, sess)
	}
	if mode == directory.RewriteOfficeInResponse {
		nu, err := s.officeRewrite(info)
		if err != nil {
			return 0, nil, err
		}
		status, out, err := s.commitBlob(r, c, d, a, nu, behavior, sess)
		if err != nil {
			s.st.RemoveBlob(nu.Name)
			return 0, nil, err
		}
		s.st.RemoveBlob(info.Name) // never committed
		return status, out, nil
	}
	// The answer shows what was sent; the rewrite is a change of its own
	// that only a later read or delta shows.
	status, out, err := s.commitBlob(r, c, d, a, info, behavior, sess)
	if err != nil {
		return 0, nil, err
	}
	var sent struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &sent); err != nil || sent.ID == "" {
		return 0, nil, fmt.Errorf("office rewrite: read the committed item: %v", err)
	}
	nu, err := s.officeRewrite(info)
	if err != nil {
		return 0, nil, err
	}
	if _, _, err := s.commitBlob(nil, c, d, itemAddr{base: sent.ID}, nu, "replace", store.Session{}); err != nil {
		s.st.RemoveBlob(nu.Name)
		return 0, nil, fmt.Errorf("office rewrite of %s: %w", sent.ID, err)
	}
	return status, out, nil
}

// officeProperties is what the simulator's SharePoint embeds in an Office
// document it rewrites: the size and hash change, as they do for real.
var officeProperties = []byte("<!-- m365sim: SharePoint column properties embedded after upload -->\n")

// officeRewrite writes the content SharePoint keeps for the Office
// document uploaded as info: the same bytes with its properties added.
func (s *Server) officeRewrite(info store.BlobInfo) (store.BlobInfo, error) {
	var src io.Reader
	if info.Data != nil {
		src = bytes.NewReader(info.Data)
	} else {
		b, err := s.st.OpenBlob(info.Name)
		if err != nil {
			return store.BlobInfo{}, fmt.Errorf("office rewrite: %w", err)
		}
		defer b.Close()
		src = b
	}
	return s.st.WriteBlob(io.MultiReader(src, bytes.NewReader(officeProperties)), -1, info.Size+int64(len(officeProperties)))
}

// targetName is the name the addressed item has or will get ("" if the
// address does not resolve).
func (s *Server) targetName(d *drive, a itemAddr) string {
	name := ""
	_ = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		switch {
		case err != nil:
		case t.item != nil:
			name = t.item.Name
		case len(t.missing) > 0:
			name = t.missing[len(t.missing)-1]
		}
		return nil
	})
	return name
}

// isOfficeDocument reports whether SharePoint embeds properties in a file
// of this name: the Open XML formats of Word, Excel and PowerPoint.
func isOfficeDocument(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm":
		return true
	}
	return false
}

// commitBlob is commitContent without the Office rewrite.
func (s *Server) commitBlob(r *http.Request, c *call, d *drive, a itemAddr, info store.BlobInfo, behavior string, sess store.Session) (int, []byte, error) {
	var status int
	var out []byte
	var oldBlob string
	err := s.st.Update(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Second)
		by := who(c)
		var prev, it *store.Item
		if t.item != nil && !a.hasPath {
			prev = t.item // addressed by id: always replace
		} else if t.item != nil {
			parent, err := tx.Item(t.item.ParentID)
			if err != nil {
				return err
			}
			name, ex, err := placeName(tx, parent.ID, t.item.Name, behavior)
			if err != nil {
				return err
			}
			if ex != nil {
				prev = ex
			} else {
				it = s.newItem(t.ds, parent.ID, name, false, by)
			}
		} else {
			if t.parent == nil || len(t.missing) == 0 {
				return errNotFound("item")
			}
			parent, err := s.ensureFolders(tx, t.ds, t.parent, t.missing[:len(t.missing)-1], by)
			if err != nil {
				return err
			}
			it = s.newItem(t.ds, parent.ID, t.missing[len(t.missing)-1], false, by)
		}
		if prev != nil {
			if prev.Folder {
				return errInvalid("The target is a folder.")
			}
			if err := checkLock(c, d, prev, true); err != nil {
				return err
			}
			if r != nil {
				if err := checkIfMatch(r, prev); err != nil {
					return err
				}
			}
			nu := *prev
			nu.ETagVer++
			nu.CTagVer++
			nu.Modified, nu.ModifiedBy = now, by
			nu.FSModified = now
			oldBlob = prev.Blob
			it = &nu
			status = http.StatusOK
		} else {
			status = http.StatusCreated
			if d.ref.Drive.RequireCheckout {
				// SharePoint leaves a file created in a library that
				// requires check-out checked out to its author.
				it.CheckedOutBy = &by
			}
		}
		it.Size, it.Hash, it.Blob = info.Size, info.Hash, info.Name
		if !sess.FSCreated.IsZero() {
			it.FSCreated = sess.FSCreated.UTC().Truncate(time.Second)
		}
		if !sess.FSModified.IsZero() {
			it.FSModified = sess.FSModified.UTC().Truncate(time.Second)
		}
		old := int64(0)
		if prev != nil {
			old = prev.Size
		}
		if info.Size-old > s.remaining(d, t.ds) {
			return errQuota()
		}
		if err := tx.Save(t.ds, prev, it); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errNameExists(it.Name)
			}
			return err
		}
		if err := tx.PutBlob(info); err != nil {
			return err
		}
		if oldBlob != "" {
			isFile, err := tx.DropBlob(oldBlob)
			if err != nil {
				return err
			}
			if !isFile {
				oldBlob = ""
			}
		}
		if err := tx.PutDrive(t.ds); err != nil {
			return err
		}
		out, err = s.renderItem(tx, d, it, nil, true)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if oldBlob != "" && oldBlob != info.Name {
		s.st.RemoveBlob(oldBlob)
	}
	return status, out, nil
}
