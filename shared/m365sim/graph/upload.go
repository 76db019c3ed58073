package graph

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// sessionLocks serializes fragments of one upload session.
type sessionLocks [64]sync.Mutex

func (l *sessionLocks) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

type uploadStatus struct {
	Context            string   `json:"@odata.context,omitempty"`
	UploadURL          string   `json:"uploadUrl,omitempty"`
	ExpirationDateTime string   `json:"expirationDateTime"`
	NextExpectedRanges []string `json:"nextExpectedRanges"`
}

func (s *Server) sessionStatus(sess *store.Session, withURL bool) uploadStatus {
	st := uploadStatus{ExpirationDateTime: sess.Expires.UTC().Format("2006-01-02T15:04:05.000Z"), NextExpectedRanges: []string{}}
	if sess.Size < 0 || sess.Received < sess.Size {
		st.NextExpectedRanges = []string{strconv.FormatInt(sess.Received, 10) + "-"}
	}
	if withURL {
		st.Context = s.base + "/v1.0/$metadata#microsoft.graph.uploadSession"
		st.UploadURL = s.base + "/_upload/" + sess.ID
	}
	return st
}

func (s *Server) createUploadSession(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	var body struct {
		Item struct {
			Conflict       string `json:"@microsoft.graph.conflictBehavior"`
			Name           string `json:"name"`
			FileSize       *int64 `json:"fileSize"`
			FileSystemInfo struct {
				CreatedDateTime      time.Time `json:"createdDateTime"`
				LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
			} `json:"fileSystemInfo"`
		} `json:"item"`
		DeferCommit bool `json:"deferCommit"`
	}
	if r.ContentLength != 0 {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return errInvalid("The request body could not be read.")
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				return errInvalid("The request body is not valid JSON.")
			}
		}
	}
	behavior, err := conflictBehavior(firstNonEmpty(r.URL.Query().Get("@microsoft.graph.conflictBehavior"), body.Item.Conflict), "replace")
	if err != nil {
		return err
	}
	size := int64(-1)
	if body.Item.FileSize != nil {
		if *body.Item.FileSize < 0 {
			return errInvalid("fileSize must not be negative.")
		}
		size = *body.Item.FileSize
	}
	for _, h := range []string{"If-Match", "If-None-Match"} {
		if v := r.Header.Get(h); v != "" && !validETag(v) {
			return errorf(http.StatusBadRequest, "malformedEntityTag", "The %s header is not a valid entity tag.", h)
		}
	}
	now := s.now()
	sess := &store.Session{
		ID: store.NewToken(30), DriveID: d.ref.Drive.ID, Conflict: behavior, Size: size, Defer: body.DeferCommit,
		IfMatch: r.Header.Get("If-Match"), Expires: now.Add(sessionLifetime), User: who(c),
		FSCreated: body.Item.FileSystemInfo.CreatedDateTime, FSModified: body.Item.FileSystemInfo.LastModifiedDateTime,
	}
	f, err := s.st.TempFile()
	if err != nil {
		return err
	}
	sess.Staged = f.Name()
	f.Close()
	err = s.st.Update(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		if t.item != nil && t.item.Folder {
			// POST .../items/{folder}/createUploadSession names the file in
			// the body.
			if a.hasPath || body.Item.Name == "" {
				return errInvalid("The target is a folder.")
			}
			if err := newName(body.Item.Name); err != nil {
				return err
			}
			t.parent, t.missing = t.item, []string{body.Item.Name}
			a.hasPath = true
			t.item, err = tx.Child(t.parent.ID, body.Item.Name)
			if errors.Is(err, store.ErrNotFound) {
				t.item = nil
			} else if err != nil {
				return err
			}
		}
		inm := r.Header.Get("If-None-Match")
		switch {
		case t.item != nil && !a.hasPath:
			sess.ItemID = t.item.ID
		case t.item != nil:
			sess.ParentID, sess.Name = t.item.ParentID, t.item.Name
		default:
			if t.parent == nil || len(t.missing) == 0 {
				return errNotFound("item")
			}
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
			sess.ParentID, sess.Dirs, sess.Name = t.parent.ID, t.missing[:len(t.missing)-1], t.missing[len(t.missing)-1]
		}
		if t.item != nil {
			if behavior != "rename" {
				if err := checkLock(c, d, t.item, true); err != nil {
					return err
				}
			}
			if err := checkIfMatch(r, t.item); err != nil {
				return err
			}
			if inm != "" && etagMatches(inm, etag(t.item), ctagOrEmpty(t.item)) {
				return errModified()
			}
			if a.hasPath && behavior == "fail" {
				return errNameExists(t.item.Name)
			}
		} else if sess.IfMatch != "" {
			return errModified()
		}
		// No quota check here: on OneDrive for Business and SharePoint
		// (every drive m365sim serves) fileSize is not checked against
		// quota; 507 quotaLimitReached arrives on the final fragment
		// (graph-contract.md, "Upload session": fileSize is checked only on
		// OneDrive Personal).
		return tx.PutSession(sess)
	})
	if err != nil {
		os.Remove(sess.Staged)
		return err
	}
	return writeValue(w, http.StatusOK, s.sessionStatus(sess, true))
}

func errSessionGone() *apiError {
	return errorf(http.StatusNotFound, "itemNotFound", "The upload session was not found or has expired.")
}

// loadSession returns a live session; an expired one is removed.
func (s *Server) loadSession(id string) (*store.Session, error) {
	var sess *store.Session
	err := s.st.View(func(tx *store.Tx) error {
		var err error
		sess, err = tx.Session(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionGone()
	}
	if err != nil {
		return nil, err
	}
	if s.now().After(sess.Expires) {
		s.dropSession(sess)
		return nil, errSessionGone()
	}
	return sess, nil
}

func (s *Server) dropSession(sess *store.Session) {
	os.Remove(sess.Staged)
	if err := s.st.Update(func(tx *store.Tx) error { return tx.DeleteSession(sess.ID) }); err != nil {
		s.log.Error("drop upload session", "err", err)
	}
}

// serveUpload serves an uploadUrl: PUT a fragment, GET the status, DELETE
// to cancel, POST to commit a deferred session. No Authorization header.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string) error {
	if r.Header.Get("Authorization") != "" {
		return errorf(http.StatusUnauthorized, "unauthenticated", "Upload URLs are pre-authenticated; do not send an Authorization header.")
	}
	unlock := s.locks.lock(id)
	defer unlock()
	sess, err := s.loadSession(id)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		return writeValue(w, http.StatusOK, s.sessionStatus(sess, false))
	case http.MethodDelete:
		s.dropSession(sess)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPost:
		if sess.Size < 0 || sess.Received != sess.Size {
			return errInvalid("The upload session is not complete.")
		}
		return s.commitSession(w, sess)
	case http.MethodPut:
		return s.putFragment(w, r, sess)
	}
	return methodNotAllowed()
}

func (s *Server) putFragment(w http.ResponseWriter, r *http.Request, sess *store.Session) error {
	cr, err := parseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		return err
	}
	n := cr.end - cr.start + 1
	if r.ContentLength != n && r.ContentLength != -1 { // -1: gzip-decoded, checked while copying
		return errInvalid("Content-Length does not match Content-Range.")
	}
	total := cr.total
	if total < 0 {
		total = sess.Size
	}
	if sess.Size >= 0 && total != sess.Size {
		return errInvalid("The declared file size does not match the session's.")
	}
	if total < 0 {
		return errInvalid("The total size is unknown; give it in Content-Range.")
	}
	if n >= fragmentLimit {
		return errorf(http.StatusRequestEntityTooLarge, "invalidRequest", "Fragments must be smaller than 60 MiB.")
	}
	if cr.start < sess.Received {
		return errorf(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "The fragment overlaps bytes already received.").withInner("uploadSessionFailed", "fragmentOverlap")
	}
	if cr.start > sess.Received {
		return errorf(http.StatusRequestedRangeNotSatisfiable, "invalidRange", "Fragments must be uploaded in order; expected %d.", sess.Received).withInner("uploadSessionFailed", "fragmentOutOfOrder")
	}
	last := cr.end+1 == total
	if !last && n%fragmentUnit != 0 {
		return errInvalid("Fragments other than the last must be a multiple of 320 KiB.")
	}
	f, err := os.OpenFile(sess.Staged, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Seek(cr.start, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	got, cerr := io.CopyBuffer(f, io.LimitReader(r.Body, n), make([]byte, 256<<10))
	if cerr == nil && got != n {
		cerr = io.ErrUnexpectedEOF
	}
	if cerr == nil && r.ContentLength == -1 {
		if extra, _ := r.Body.Read(make([]byte, 1)); extra > 0 {
			cerr = errors.New("body longer than its Content-Range")
		}
	}
	if cerr != nil {
		f.Truncate(sess.Received)
		f.Close()
		return errInvalid("The fragment body does not match its Content-Range.")
	}
	if err := f.Close(); err != nil {
		return err
	}
	sess.Size = total
	sess.Received = cr.end + 1
	sess.Expires = s.now().Add(sessionLifetime)
	if err := s.st.Update(func(tx *store.Tx) error { return tx.PutSession(sess) }); err != nil {
		return err
	}
	if !last || sess.Defer {
		return writeValue(w, http.StatusAccepted, s.sessionStatus(sess, false))
	}
	return s.commitSession(w, sess)
}

// commitSession turns the staged file into the item's content. When the
// commit fails (a name conflict, a changed eTag, a full quota) the session
// and its bytes are kept until the session expires, so that the client can
// resolve the cause and commit explicitly (graph-contract.md, "Upload
// session": "If the last fragment fails ... the session is kept until it
// expires").
func (s *Server) commitSession(w http.ResponseWriter, sess *store.Session) error {
	ref, ok := s.dir.Drive(sess.DriveID)
	if !ok {
		s.dropSession(sess)
		return errNotFound("drive")
	}
	u := ref.Tenant.User(sess.User.ID)
	if u == nil {
		s.dropSession(sess)
		return errDenied()
	}
	c := &call{tenant: ref.Tenant, user: u}
	d := &drive{ref: ref, write: true}
	a := itemAddr{base: sess.ParentID, path: append(append([]string{}, sess.Dirs...), sess.Name), hasPath: true}
	if sess.ItemID != "" {
		a = itemAddr{base: sess.ItemID}
	}
	info, err := s.st.ImportBlob(sess.Staged)
	if err != nil {
		return err
	}
	var req *http.Request
	if sess.IfMatch != "" {
		req = &http.Request{Header: http.Header{"If-Match": {sess.IfMatch}}}
	}
	status, out, err := s.commitContent(req, c, d, a, info, sess.Conflict, *sess)
	if err != nil {
		if uerr := s.st.UnimportBlob(info.Name, sess.Staged); uerr != nil {
			s.log.Error("keep upload session after a failed commit", "err", uerr)
			s.st.RemoveBlob(info.Name)
			s.dropSession(sess)
		}
		return err
	}
	s.dropSession(sess)
	return writeJSON(w, status, out)
}

// explicitCommit commits a complete upload session whose last fragment
// failed, under new metadata: PUT on the parent folder's address with
// {"name", "@microsoft.graph.conflictBehavior", "@microsoft.graph.sourceUrl":
// the upload URL}, If-Match allowed (OneDrive API docs,
// driveitem_createuploadsession.md, "Handle upload errors"; the contract's
// "so the client can resolve and retry the commit").
func (s *Server) explicitCommit(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	var body struct {
		Name      string `json:"name"`
		Conflict  string `json:"@microsoft.graph.conflictBehavior"`
		SourceURL string `json:"@microsoft.graph.sourceUrl"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		return errInvalid("The request body is not valid JSON.")
	}
	id, ok := strings.CutPrefix(body.SourceURL, s.base+"/_upload/")
	if !ok || id == "" {
		return errInvalid("@microsoft.graph.sourceUrl must name an upload session.")
	}
	if err := newName(body.Name); err != nil {
		return err
	}
	if v := r.Header.Get("If-Match"); v != "" && !validETag(v) {
		return errorf(http.StatusBadRequest, "malformedEntityTag", "The If-Match header is not a valid entity tag.")
	}
	unlock := s.locks.lock(id)
	defer unlock()
	sess, err := s.loadSession(id)
	if err != nil {
		return err
	}
	if sess.DriveID != d.ref.Drive.ID || sess.User.ID != who(c).ID {
		return errSessionGone()
	}
	if sess.Size < 0 || sess.Received != sess.Size {
		return errInvalid("The upload session is not complete.")
	}
	behavior, err := conflictBehavior(body.Conflict, sess.Conflict)
	if err != nil {
		return err
	}
	var parentID string
	err = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		if t.item == nil || !t.item.Folder {
			return errInvalid("Address the parent folder to commit an upload session.")
		}
		parentID = t.item.ID
		return nil
	})
	if err != nil {
		return err
	}
	nu := *sess
	nu.ItemID, nu.ParentID, nu.Dirs, nu.Name = "", parentID, nil, body.Name
	nu.Conflict, nu.IfMatch = behavior, r.Header.Get("If-Match")
	return s.commitSession(w, &nu)
}
