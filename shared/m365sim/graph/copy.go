package graph

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// monitorLifetime is how long a finished copy's monitor URL keeps answering.
const monitorLifetime = time.Hour

// copyJob is an asynchronous copy and its monitor state.
type copyJob struct {
	mu       sync.Mutex // guards the fields below
	status   string     // notStarted | inProgress | completed | failed
	percent  float64
	resource string
	err      *apiError
	done     time.Time
}

func (j *copyJob) set(f func(j *copyJob)) {
	j.mu.Lock()
	f(j)
	j.mu.Unlock()
}

// copyItem starts an asynchronous copy: 202 with a monitor URL.
func (s *Server) copyItem(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	var body struct {
		ParentReference *struct {
			DriveID string `json:"driveId"`
			ID      string `json:"id"`
		} `json:"parentReference"`
		Name string `json:"name"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Name != "" {
		if err := newName(body.Name); err != nil {
			return err
		}
	}
	behavior, err := conflictBehavior(r.URL.Query().Get("@microsoft.graph.conflictBehavior"), "fail")
	if err != nil {
		return err
	}
	var src *store.Item
	err = s.st.View(func(tx *store.Tx) error {
		t, err := resolve(tx, d, a)
		if err != nil {
			return err
		}
		src, err = t.existing()
		return err
	})
	if err != nil {
		return err
	}
	if src.IsRoot() {
		return errInvalid("The root folder cannot be copied.")
	}
	dst := d
	parentID := src.ParentID
	if pr := body.ParentReference; pr != nil {
		if pr.DriveID != "" && pr.DriveID != d.ref.Drive.ID {
			if dst, err = s.openDrive(c, pr.DriveID); err != nil {
				return err
			}
		}
		if pr.ID != "" {
			parentID = pr.ID
		} else if dst != d {
			parentID = ""
		}
	}
	if err := dst.checkWrite(c); err != nil {
		return err
	}
	name := body.Name
	if name == "" {
		name = src.Name
	}
	job := &copyJob{status: "notStarted"}
	id := store.NewToken(20)
	s.mu.Lock()
	for k, j := range s.jobs { // forget monitors finished long ago
		j.mu.Lock()
		old := !j.done.IsZero() && s.now().Sub(j.done) > monitorLifetime
		j.mu.Unlock()
		if old {
			delete(s.jobs, k)
		}
	}
	s.jobs[id] = job
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case s.copySem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		defer func() { <-s.copySem }()
		job.set(func(j *copyJob) { j.status = "inProgress" })
		newID, err := s.runCopy(c, dst, src, parentID, name, behavior, job)
		job.set(func(j *copyJob) {
			j.done = s.now()
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) {
					s.log.Error("copy failed", "err", err)
					ae = errorf(http.StatusInternalServerError, "generalException", "The copy failed.")
				}
				j.status, j.err = "failed", ae
				return
			}
			j.status, j.percent, j.resource = "completed", 100, newID
		})
	}()
	w.Header().Set("Location", s.base+"/_monitor/"+id)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// runCopy copies src (a file or a whole folder) into parentID of dst.
func (s *Server) runCopy(c *call, dst *drive, src *store.Item, parentID, name, behavior string, job *copyJob) (string, error) {
	// Snapshot the source tree.
	type node struct {
		it   *store.Item
		kids []*node
	}
	var count int
	var total int64
	var walk func(tx *store.Tx, it *store.Item) (*node, error)
	walk = func(tx *store.Tx, it *store.Item) (*node, error) {
		n := &node{it: it}
		count++
		total += map[bool]int64{true: 0, false: it.Size}[it.Folder]
		if !it.Folder {
			return n, nil
		}
		var kids []*store.Item
		if err := tx.Children(it.ID, "", false, func(ch *store.Item) bool { kids = append(kids, ch); return true }); err != nil {
			return nil, err
		}
		for _, k := range kids {
			kn, err := walk(tx, k)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kn)
		}
		return n, nil
	}
	var root *node
	if err := s.st.View(func(tx *store.Tx) error {
		cur, err := tx.Item(src.ID)
		if err != nil || cur.Deleted {
			return errNotFound("item")
		}
		root, err = walk(tx, cur)
		return err
	}); err != nil {
		return "", err
	}
	// Clone content first, outside the transaction.
	blobs := map[string]store.BlobInfo{}
	var cloned []string
	done := 0
	var clone func(n *node) error
	clone = func(n *node) error {
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if !n.it.Folder {
			nb, err := s.st.CloneBlob(n.it.Blob)
			if err != nil {
				return err
			}
			blobs[n.it.ID] = nb
			cloned = append(cloned, nb.Name)
		}
		done++
		job.set(func(j *copyJob) { j.percent = 90 * float64(done) / float64(count) })
		for _, k := range n.kids {
			if err := clone(k); err != nil {
				return err
			}
		}
		return nil
	}
	fail := func(err error) (string, error) {
		for _, b := range cloned {
			s.st.RemoveBlob(b)
		}
		return "", err
	}
	if err := clone(root); err != nil {
		return fail(err)
	}
	var newID string
	by := who(c)
	err := s.st.Update(func(tx *store.Tx) error {
		ds, err := tx.Drive(dst.ref.Drive.ID)
		if err != nil {
			return err
		}
		if parentID == "" {
			parentID = ds.RootID
		}
		parent, err := tx.Item(parentID)
		if err != nil || parent.Deleted || parent.DriveID != ds.ID || !parent.Folder {
			return errInvalid("The destination folder does not exist.")
		}
		if total > s.remaining(dst, ds) {
			return errQuota()
		}
		finalName, ex, err := placeName(tx, parent.ID, name, behavior)
		if err != nil {
			return err
		}
		// The copy's names and depth follow the same rules as an
		// upload's (names.go): the deepest copied item must fit in 400
		// characters, and no Forms folder lands at a library's root.
		deeper, err := deepestBelow(tx, root.it)
		if err != nil {
			return err
		}
		if err := s.checkPathLen(tx, dst, parent, deeper, finalName); err != nil {
			return err
		}
		if root.it.Folder {
			if err := newRootFolderName(parent, finalName); err != nil {
				return err
			}
		}
		if ex != nil {
			if err := s.deleteTree(tx, ds, ex, s.now().UTC(), by); err != nil {
				return err
			}
		}
		var put func(n *node, parentID, name string) (string, error)
		put = func(n *node, parentID, name string) (string, error) {
			it := s.newItem(ds, parentID, name, n.it.Folder, by)
			it.FSCreated, it.FSModified = n.it.FSCreated, n.it.FSModified
			if !n.it.Folder {
				it.Size, it.Hash, it.Blob, it.MimeType = n.it.Size, n.it.Hash, blobs[n.it.ID].Name, n.it.MimeType
				if err := tx.PutBlob(blobs[n.it.ID]); err != nil {
					return "", err
				}
			}
			if err := tx.Save(ds, nil, it); err != nil {
				return "", err
			}
			for _, k := range n.kids {
				if _, err := put(k, it.ID, k.it.Name); err != nil {
					return "", err
				}
			}
			return it.ID, nil
		}
		if newID, err = put(root, parent.ID, finalName); err != nil {
			return err
		}
		return tx.PutDrive(ds)
	})
	if err != nil {
		return fail(err)
	}
	return newID, nil
}

// serveMonitor reports a copy job's progress. No Authorization header is
// needed.
func (s *Server) serveMonitor(w http.ResponseWriter, r *http.Request, id string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	s.mu.Lock()
	job := s.jobs[id]
	s.mu.Unlock()
	if job == nil {
		return errorf(http.StatusNotFound, "itemNotFound", "The monitor was not found.")
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	type errBody struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	out := struct {
		Operation  string   `json:"operation,omitempty"`
		Percentage float64  `json:"percentageComplete"`
		ResourceID string   `json:"resourceId,omitempty"`
		Status     string   `json:"status"`
		Error      *errBody `json:"error,omitempty"`
	}{Operation: "ItemCopy", Percentage: job.percent, ResourceID: job.resource, Status: job.status}
	status := http.StatusAccepted
	switch job.status {
	case "completed":
		out.Operation = ""
		status = http.StatusOK
	case "failed":
		out.Error = &errBody{job.err.code, job.err.msg}
		status = http.StatusOK
	}
	return writeValue(w, status, out)
}
