package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Op is a set of pending remote operations for one item.
type Op uint8

// The operations a job can carry. They are applied in this order.
const (
	OpMkdir  Op = 1 << iota // create the folder on the server
	OpMove                  // rename/move to the record's current name and parent
	OpUpload                // upload the content
	OpDelete                // delete on the server
	// OpTouch sends the record's modification time (after any upload).
	// Last, so the journal's existing bits keep their meaning.
	OpTouch
	// OpCheckIn checks the file in once everything before it succeeded
	// (a library requiring check-out, or exclusive editing).
	OpCheckIn
)

// Session is a resumable upload in progress, journaled so an upload
// survives a crash of the agent. URL is journaled only sealed (SealedURL,
// see Sealer); LegacyURL is the clear URL older versions wrote, read once
// and rewritten sealed.
type Session struct {
	URL        string    `json:"-"`
	SealedURL  []byte    `json:"su,omitempty"`
	LegacyURL  string    `json:"u,omitempty"`
	Expiration time.Time `json:"x"`
	Size       int64     `json:"s"`
	Gen        uint64    `json:"g"`
	Next       int64     `json:"n"`
	ParentID   string    `json:"p,omitempty"`
	Name       string    `json:"nm,omitempty"`
}

// Job is the journaled remote work for one item key.
type Job struct {
	Key string `json:"k"`
	Ops Op     `json:"o"`
	// RemoteID is the server id to delete, kept because the record is
	// gone by the time a delete runs.
	RemoteID string    `json:"r,omitempty"`
	IfMatch  string    `json:"e,omitempty"`
	Session  *Session  `json:"s,omitempty"`
	Attempts int       `json:"a,omitempty"`
	NextAt   time.Time `json:"t,omitzero"`
	LastErr  string    `json:"err,omitempty"`
	// Offline marks a job waiting only for the network to come back.
	Offline bool `json:"off,omitempty"`

	// seq is the Queue's count of changes when ops were last added (not
	// journaled): a job that ends with another seq than it was claimed
	// with was added to while it ran.
	seq uint64
}

// clone returns a copy of j that shares nothing with it: a running job
// updates its session's progress while the Queue journals its own copy.
func (j *Job) clone() Job {
	c := *j
	if j.Session != nil {
		s := *j.Session
		c.Session = &s
	}
	return c
}

// Backoff bounds for failed jobs.
const (
	MinBackoff = time.Second
	MaxBackoff = 5 * time.Minute
)

// Scheduler runs the jobs when they are due (vfs/writeback implements
// it). The Queue tells it every due time it sets, in the order it sets
// them, holding its own lock: a Scheduler must never call the Queue back
// from these methods.
type Scheduler interface {
	// Schedule makes key due at due; a running key runs again after.
	Schedule(key string, due time.Time)
	// Cancel forgets key's waiting run and ends its running one at once.
	Cancel(key string)
}

// Queue is the journaled queue of pending remote operations: one job per
// item key, each with when it is next due, with capped exponential
// backoff. It is the journal: its Scheduler decides what runs when, and
// every run starts with Claim and ends with Done, Retry or Cancelled. It
// is safe for concurrent use.
type Queue struct {
	store *Store
	seal  *Sealer // non-nil; seals session URLs in the journal
	now   func() time.Time
	// UploadDelay postpones an added upload, so a burst of changes to a
	// file (truncate, then open, write, close) uploads once. Set before use.
	UploadDelay time.Duration

	// wmu serializes journal writes so they reach the store in the order
	// they were prepared. Lock order: the caller's namespace lock, wmu,
	// mu, then the Scheduler's own lock and the store's write
	// transaction.
	wmu sync.Mutex

	mu       sync.Mutex // guards everything below
	sched    Scheduler  // nil until SetScheduler
	jobs     map[string]*Job
	seq      uint64 // counts Adds, for Job.seq
	idleCond []chan struct{}

	// keys mirrors the key set of jobs. It is a leaf: Pending reads it
	// without q.mu, so code inside a store transaction may call it while
	// another goroutine holds q.mu waiting to write the store.
	keys sync.Map
}

// OpenQueue loads the journal; seal opens and seals its session URLs.
// A session whose URL does not open (another key, another drive, altered)
// is forgotten: its upload starts a new session.
func OpenQueue(store *Store, seal *Sealer, now func() time.Time) (*Queue, error) {
	if seal == nil {
		return nil, errors.New("open the upload journal: no sealer")
	}
	if now == nil {
		now = time.Now
	}
	q := &Queue{store: store, seal: seal, now: now, jobs: map[string]*Job{}}
	var legacy []*Job
	err := store.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %s: %w", k, err)
			}
			if s := j.Session; s != nil {
				switch {
				case s.LegacyURL != "":
					s.URL, s.LegacyURL = s.LegacyURL, ""
					legacy = append(legacy, &j)
				case len(s.SealedURL) > 0:
					url, err := seal.open(s.SealedURL, j.Key)
					if err != nil {
						j.Session = nil
					} else {
						s.URL, s.SealedURL = url, nil
					}
				default:
					j.Session = nil
				}
			}
			q.jobs[j.Key] = &j
			q.keys.Store(j.Key, true)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// A journal of an older version holds session URLs in clear: write
	// them back sealed.
	for _, j := range legacy {
		if err := store.Update(q.jobWriteLocked(j)); err != nil {
			return nil, fmt.Errorf("seal the journaled session of %s: %w", j.Key, err)
		}
	}
	return q, nil
}

// jobWriteLocked returns a store write of j as it is now, its session
// URL sealed.
func (q *Queue) jobWriteLocked(j *Job) func(*Tx) error {
	c := *j
	if j.Session != nil {
		s := *j.Session
		s.SealedURL, s.LegacyURL = q.seal.seal(s.URL, j.Key), ""
		c.Session = &s
	}
	raw, err := json.Marshal(&c)
	key := j.Key
	return func(tx *Tx) error {
		if err != nil {
			return err
		}
		return tx.tx.Bucket(bucketJobs).Put([]byte(key), raw)
	}
}

func jobDelete(key string) func(*Tx) error {
	return func(tx *Tx) error { return tx.tx.Bucket(bucketJobs).Delete([]byte(key)) }
}

// Begin takes the journal write lock for a caller that will write
// prepared changes (AddPrepared) in its own store transaction; the
// returned function releases it.
func (q *Queue) Begin() func() {
	q.wmu.Lock()
	return q.wmu.Unlock
}

// write runs prepare under mu and stores its result, in order.
func (q *Queue) write(prepare func() func(*Tx) error) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.mu.Lock()
	w := prepare()
	q.mu.Unlock()
	if w == nil {
		return nil
	}
	return q.store.Update(w)
}

// SetScheduler hands every job, now and from now on, to s.
func (q *Queue) SetScheduler(s Scheduler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sched = s
	for _, j := range q.jobs {
		s.Schedule(j.Key, j.NextAt)
	}
}

func (q *Queue) scheduleLocked(j *Job) {
	if q.sched != nil {
		q.sched.Schedule(j.Key, j.NextAt)
	}
}

// Add merges ops into key's job (creating it) and makes it due now.
// ifMatch, when set, replaces the job's eTag precondition.
func (q *Queue) Add(key string, ops Op, remoteID, ifMatch string) error {
	return q.write(func() func(*Tx) error { return q.addLocked(key, ops, remoteID, ifMatch) })
}

// AddPrepared is Add for a caller holding Begin: it returns the journal
// write to run in the caller's transaction.
func (q *Queue) AddPrepared(key string, ops Op, remoteID, ifMatch string) func(*Tx) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.addLocked(key, ops, remoteID, ifMatch)
}

func (q *Queue) addLocked(key string, ops Op, remoteID, ifMatch string) func(*Tx) error {
	j := q.jobs[key]
	if j == nil {
		j = &Job{Key: key}
		q.jobs[key] = j
		q.keys.Store(key, true)
	}
	j.Ops |= ops
	if remoteID != "" {
		j.RemoteID = remoteID
	}
	if ifMatch != "" {
		j.IfMatch = ifMatch
	}
	j.NextAt = time.Time{}
	if ops&OpUpload != 0 && q.UploadDelay > 0 {
		j.NextAt = q.now().Add(q.UploadDelay)
	}
	q.seq++
	j.seq = q.seq
	q.scheduleLocked(j)
	return q.jobWriteLocked(j)
}

// Drop forgets key's job (the item was deleted here) and cancels its run
// at once. A job holding an upload session keeps only that session (no
// ops): its next run cancels the session on the server, so that neither a
// crash nor an unreachable server leaves the cancel undone.
func (q *Queue) Drop(key string) error {
	return q.write(func() func(*Tx) error {
		if q.sched != nil {
			q.sched.Cancel(key)
		}
		defer q.signalIdleLocked()
		j := q.jobs[key]
		if j == nil {
			return jobDelete(key)
		}
		q.seq++
		j.Ops, j.RemoteID, j.IfMatch, j.NextAt, j.seq = 0, "", "", time.Time{}, q.seq
		return q.settleLocked(j, j.Session == nil)
	})
}

// Restart ends key's running job at once; the job stays journaled and
// runs again when due (its item was renamed: an upload must not go on
// to the old name).
func (q *Queue) Restart(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sched == nil {
		return
	}
	q.sched.Cancel(key)
	if j := q.jobs[key]; j != nil {
		q.scheduleLocked(j)
	}
}

// Get returns a copy of key's job.
func (q *Queue) Get(key string) (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[key]
	if j == nil {
		return Job{}, false
	}
	return j.clone(), true
}

// Pending reports whether key has a job. It takes no lock.
func (q *Queue) Pending(key string) bool {
	_, ok := q.keys.Load(key)
	return ok
}

// Jobs returns copies of every job, ordered by due time.
func (q *Queue) Jobs() []Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Job, 0, len(q.jobs))
	for _, j := range q.jobs {
		out = append(out, j.clone())
	}
	sort.Slice(out, func(a, b int) bool { return out[a].NextAt.Before(out[b].NextAt) })
	return out
}

// Len returns the number of jobs.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

// Claim returns a copy of key's job to run, when it has one that is due.
// The run ends with Done, Retry or Cancelled, given the claimed copy.
// A job not yet due was rescheduled after the Scheduler took it: it is
// handed to the Scheduler again, which runs it then.
func (q *Queue) Claim(key string) (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[key]
	if j == nil {
		return Job{}, false
	}
	if j.NextAt.After(q.now()) {
		q.scheduleLocked(j)
		return Job{}, false
	}
	return j.clone(), true
}

// Save journals progress of a running job (its upload session).
func (q *Queue) Save(j Job) error {
	return q.write(func() func(*Tx) error {
		cur := q.jobs[j.Key]
		if cur == nil {
			return nil
		}
		cur.Session = j.clone().Session
		return q.jobWriteLocked(cur)
	})
}

// Done finishes a claimed run: done ops are removed and the job dropped
// when nothing is left, unless ops were added meanwhile (then it runs
// again, all of it).
func (q *Queue) Done(claimed Job, done Op) error {
	return q.write(func() func(*Tx) error { return q.doneLocked(claimed, done) })
}

// doneLocked is Done's journal change, prepared under mu.
func (q *Queue) doneLocked(claimed Job, done Op) func(*Tx) error {
	return q.endRunLocked(claimed, func(j *Job) func(*Tx) error {
		j.Attempts, j.LastErr, j.Offline = 0, "", false
		if j.seq != claimed.seq {
			j.Session = nil
			q.scheduleLocked(j)
			return q.jobWriteLocked(j)
		}
		j.Ops &^= done
		// A session left journaled by a finished upload was committed.
		return q.settleLocked(j, j.Ops == 0)
	})
}

// endRunLocked ends claimed's run with end, given its job (when it still
// has one), and returns end's journal change.
func (q *Queue) endRunLocked(claimed Job, end func(j *Job) func(*Tx) error) func(*Tx) error {
	defer q.signalIdleLocked()
	if j := q.jobs[claimed.Key]; j != nil {
		return end(j)
	}
	return nil
}

// endRun is endRunLocked as one journal write.
func (q *Queue) endRun(claimed Job, end func(j *Job) func(*Tx) error) error {
	return q.write(func() func(*Tx) error { return q.endRunLocked(claimed, end) })
}

// settleLocked forgets j when gone, else journals and schedules it.
func (q *Queue) settleLocked(j *Job, gone bool) func(*Tx) error {
	if gone {
		delete(q.jobs, j.Key)
		q.keys.Delete(j.Key)
		return jobDelete(j.Key)
	}
	q.scheduleLocked(j)
	return q.jobWriteLocked(j)
}

// Cancelled finishes a claimed run that Drop or Restart cancelled: done
// ops are removed and the rest runs again when due. Not a failure: no
// attempt is counted and no backoff added.
func (q *Queue) Cancelled(claimed Job, done Op) error {
	return q.endRun(claimed, func(j *Job) func(*Tx) error {
		if j.seq == claimed.seq {
			j.Ops &^= done
		}
		return q.settleLocked(j, j.Ops == 0 && j.Session == nil)
	})
}

// Retry finishes a claimed run unsuccessfully: done ops are removed and
// the rest is due again after a capped exponential backoff (at once when
// ops were added meanwhile).
func (q *Queue) Retry(claimed Job, done Op, cause error, offline bool) error {
	return q.endRun(claimed, func(j *Job) func(*Tx) error {
		again := j.seq != claimed.seq
		if !again {
			j.Ops &^= done
		}
		j.Attempts++
		j.LastErr = cause.Error()
		j.Offline = offline
		d := MinBackoff << min(j.Attempts-1, 20)
		if d > MaxBackoff || d <= 0 {
			d = MaxBackoff
		}
		if again {
			d = 0
		}
		j.NextAt = q.now().Add(d)
		q.scheduleLocked(j)
		return q.jobWriteLocked(j)
	})
}

// Wake makes every job due now (the network came back).
func (q *Queue) Wake() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range q.jobs {
		j.NextAt = time.Time{}
		q.scheduleLocked(j)
	}
}

// Idle returns a channel closed the next time a job finishes or fails.
func (q *Queue) Idle() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	ch := make(chan struct{})
	q.idleCond = append(q.idleCond, ch)
	return ch
}

func (q *Queue) signalIdleLocked() {
	for _, ch := range q.idleCond {
		close(ch)
	}
	q.idleCond = nil
}
