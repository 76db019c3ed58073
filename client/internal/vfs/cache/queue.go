package cache

import (
	"context"
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
}

// Backoff bounds for failed jobs.
const (
	MinBackoff = time.Second
	MaxBackoff = 5 * time.Minute
)

// Queue is the journaled queue of pending remote operations: one job per
// item key, ordered by when it is next due, with capped exponential
// backoff. It is safe for concurrent use.
type Queue struct {
	store *Store
	seal  *Sealer // non-nil; seals session URLs in the journal
	now   func() time.Time
	// UploadDelay postpones an added upload, so a burst of changes to a
	// file (truncate, then open, write, close) uploads once. Set before use.
	UploadDelay time.Duration

	// wmu serializes journal writes so they reach the store in the order
	// they were prepared. Lock order: the caller's namespace lock, wmu,
	// mu, then the store's write transaction.
	wmu sync.Mutex

	mu       sync.Mutex // guards everything below
	paused   bool
	jobs     map[string]*Job
	running  map[string]bool
	again    map[string]bool // Add while running: run once more
	kick     chan struct{}   // 1-buffered
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
	q := &Queue{store: store, seal: seal, now: now, jobs: map[string]*Job{}, running: map[string]bool{},
		again: map[string]bool{}, kick: make(chan struct{}, 1)}
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

func (q *Queue) kickLocked() {
	select {
	case q.kick <- struct{}{}:
	default:
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
	if q.running[key] {
		q.again[key] = true
	}
	q.kickLocked()
	return q.jobWriteLocked(j)
}

// Drop forgets key's job (the item was deleted before it reached the
// server).
func (q *Queue) Drop(key string) error {
	return q.write(func() func(*Tx) error {
		if q.running[key] {
			q.again[key] = true
		}
		delete(q.jobs, key)
		q.keys.Delete(key)
		q.signalIdleLocked()
		return jobDelete(key)
	})
}

// Rekey moves a job to another key (content adopted by another item).
func (q *Queue) Rekey(oldKey, newKey string) error {
	return q.write(func() func(*Tx) error {
		j := q.jobs[oldKey]
		if j == nil {
			return nil
		}
		delete(q.jobs, oldKey)
		q.keys.Delete(oldKey)
		j.Key = newKey
		j.Session = nil
		q.jobs[newKey] = j
		q.keys.Store(newKey, true)
		put := q.jobWriteLocked(j)
		return func(tx *Tx) error {
			if err := jobDelete(oldKey)(tx); err != nil {
				return err
			}
			return put(tx)
		}
	})
}

// Get returns a copy of key's job.
func (q *Queue) Get(key string) (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs[key]
	if j == nil {
		return Job{}, false
	}
	return *j, true
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
		out = append(out, *j)
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

// Next blocks until a job is due and not running, marks it running and
// returns a copy. wait is how the caller waits for a duration (a clock).
func (q *Queue) Next(ctx context.Context, wait func(time.Duration) <-chan time.Time) (Job, error) {
	for {
		q.mu.Lock()
		var best *Job
		for k, j := range q.jobs {
			if q.running[k] || q.paused {
				continue
			}
			if best == nil || j.NextAt.Before(best.NextAt) {
				best = j
			}
		}
		now := q.now()
		if best != nil && !best.NextAt.After(now) {
			q.running[best.Key] = true
			j := *best
			q.mu.Unlock()
			return j, nil
		}
		var timer <-chan time.Time
		if best != nil {
			timer = wait(best.NextAt.Sub(now))
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return Job{}, ctx.Err()
		case <-q.kick:
		case <-timer:
		}
	}
}

// Save journals progress of a running job (its upload session).
func (q *Queue) Save(j Job) error {
	return q.write(func() func(*Tx) error {
		cur := q.jobs[j.Key]
		if cur == nil {
			return nil
		}
		cur.Session = j.Session
		return q.jobWriteLocked(cur)
	})
}

// Done finishes a running job: done ops are removed and the job dropped
// when nothing is left, unless it was re-added meanwhile.
func (q *Queue) Done(key string, done Op) error {
	return q.write(func() func(*Tx) error {
		delete(q.running, key)
		j := q.jobs[key]
		defer q.kickLocked()
		defer q.signalIdleLocked()
		if j == nil {
			delete(q.again, key)
			return nil
		}
		if q.again[key] {
			delete(q.again, key)
			j.Session = nil
			j.Attempts, j.LastErr, j.Offline = 0, "", false
			return q.jobWriteLocked(j)
		}
		j.Ops &^= done
		if j.Ops == 0 {
			delete(q.jobs, key)
			q.keys.Delete(key)
			return jobDelete(key)
		}
		j.Attempts, j.LastErr, j.Offline = 0, "", false
		return q.jobWriteLocked(j)
	})
}

// Retry finishes a running job unsuccessfully: done ops are removed and
// the rest is due again after a capped exponential backoff.
func (q *Queue) Retry(key string, done Op, cause error, offline bool) error {
	return q.write(func() func(*Tx) error { return q.retryLocked(key, done, cause, offline) })
}

func (q *Queue) retryLocked(key string, done Op, cause error, offline bool) func(*Tx) error {
	delete(q.running, key)
	defer q.signalIdleLocked()
	j := q.jobs[key]
	if j == nil {
		return nil
	}
	j.Ops &^= done
	j.Attempts++
	j.LastErr = cause.Error()
	j.Offline = offline
	d := MinBackoff << min(j.Attempts-1, 20)
	if d > MaxBackoff || d <= 0 {
		d = MaxBackoff
	}
	if q.again[key] {
		delete(q.again, key)
		d = 0
	}
	j.NextAt = q.now().Add(d)
	q.kickLocked()
	return q.jobWriteLocked(j)
}

// SetPaused stops (or resumes) handing out jobs.
func (q *Queue) SetPaused(paused bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.paused = paused
	q.kickLocked()
}

// Paused reports whether the queue is paused.
func (q *Queue) Paused() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.paused
}

// Wake makes every job due now (the network came back).
func (q *Queue) Wake() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range q.jobs {
		j.NextAt = time.Time{}
	}
	q.kickLocked()
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
