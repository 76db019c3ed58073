package vfs

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventTransfer  EventKind = "transfer"  // progress of an upload or download
	EventUploaded  EventKind = "uploaded"  // a file reached the server
	EventConflict  EventKind = "conflict"  // both versions kept; see Conflict
	EventError     EventKind = "error"     // an operation failed and will be retried
	EventOffline   EventKind = "offline"   // Microsoft 365 unreachable
	EventOnline    EventKind = "online"    // reachable again
	EventChanged   EventKind = "changed"   // remote changes applied
	EventQuotaFull EventKind = "quotaFull" // uploads wait for space
	// EventRefused reports a name SharePoint does not accept, refused at
	// once (EINVAL, ENAMETOOLONG); nothing was created or queued.
	EventRefused EventKind = "refused"
	// EventNotDeleted: a delete was refused because someone else changed
	// the item on the server; their version stays and shows again.
	EventNotDeleted EventKind = "notDeleted"
	// EventCheckedOut: a file could not be opened for writing, or its
	// upload waits, because someone else has it checked out; Err names
	// them ("checked out by Bob Berg").
	EventCheckedOut EventKind = "checkedOut"
)

// NotDeletedReason is the Err of an EventNotDeleted.
const NotDeletedReason = "changed on the server by someone else; not deleted"

// Transfer is one upload or download in progress.
type Transfer struct {
	Path   string `json:"path"`
	Upload bool   `json:"upload"`
	Done   int64  `json:"done"`
	Total  int64  `json:"total"`
}

// Conflict records a file whose local version was kept beside the
// server's.
type Conflict struct {
	Path         string    `json:"path"`
	ConflictPath string    `json:"conflictPath"`
	Time         time.Time `json:"time"`
}

// ItemError is a failure the user may need to know about.
type ItemError struct {
	Path string    `json:"path"`
	Err  string    `json:"error"`
	Time time.Time `json:"time"`
	// Refused reports a name refused at once (EventRefused): nothing
	// will be retried, the user has to rename.
	Refused bool `json:"refused,omitempty"`
}

// Event is one notification on the Subscribe stream.
type Event struct {
	Kind     EventKind `json:"kind"`
	Path     string    `json:"path,omitempty"`
	Err      string    `json:"error,omitempty"`
	Transfer *Transfer `json:"transfer,omitempty"`
	Conflict *Conflict `json:"conflict,omitempty"`
	Time     time.Time `json:"time"`
}

// Status is a snapshot of the filesystem's state for the agent.
type Status struct {
	Online      bool        `json:"online"`
	ReadOnly    bool        `json:"readOnly"`
	QuotaFull   bool        `json:"quotaFull"`
	Paused      bool        `json:"uploadsPaused"`
	QueueLength int         `json:"queueLength"`
	Transfers   []Transfer  `json:"transfers"`
	Errors      []ItemError `json:"errors"`
	Conflicts   []Conflict  `json:"conflicts"`
	// NotDeleted lists recent deletes the server refused because someone
	// else had changed the item (EventNotDeleted).
	NotDeleted []ItemError `json:"notDeleted"`
	// CheckedOut lists recent files someone else had checked out when
	// this mount wanted to write them (EventCheckedOut).
	CheckedOut []ItemError `json:"checkedOut"`
	CacheUsed  int64       `json:"cacheUsed"`
	CacheMax   int64       `json:"cacheMax"`
	Pinned     []string    `json:"pinned"`
	LastSync   time.Time   `json:"lastSync"`
	// UnavailableOffline names the folders (drive paths, most recent
	// last, at most 20) that were opened offline without ever having been
	// listed: they show empty until a listing succeeds.
	UnavailableOffline []string `json:"unavailableOffline"`
	// RootProblem says that the folder a folder-rooted drive shows was
	// deleted, renamed or moved on the server (FS.RootProblem); "" when
	// it is where the mapping says.
	RootProblem string `json:"rootProblem,omitempty"`
}

const (
	keepRecent      = 50
	keepUnavailable = 20
)

// events holds the live transfers, recent errors and conflicts, and the
// subscribers.
type events struct {
	mu        sync.Mutex // guards everything below
	transfers map[string]*Transfer
	errors    []ItemError
	conflicts []Conflict
	kept      []ItemError // EventNotDeleted
	locked    []ItemError // EventCheckedOut
	// unavail holds the keys of folders answered empty offline because
	// their children were never fetched; most recent last, no repeats.
	unavail []string
	subs    map[chan Event]struct{}
	closed  bool
}

// unavailable records folder key as opened offline while never listed.
func (e *events) unavailable(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unavail = append(slices.DeleteFunc(e.unavail, func(k string) bool { return k == key }), key)
	if len(e.unavail) > keepUnavailable {
		e.unavail = e.unavail[len(e.unavail)-keepUnavailable:]
	}
}

// listed forgets folder key: a listing of it succeeded.
func (e *events) listed(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unavail = slices.DeleteFunc(e.unavail, func(k string) bool { return k == key })
}

func (e *events) init() {
	e.transfers = map[string]*Transfer{}
	e.subs = map[chan Event]struct{}{}
}

func (e *events) emit(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.Kind {
	case EventError, EventRefused:
		e.errors = append(e.errors, ItemError{Path: ev.Path, Err: ev.Err, Time: ev.Time, Refused: ev.Kind == EventRefused})
		if len(e.errors) > keepRecent {
			e.errors = e.errors[len(e.errors)-keepRecent:]
		}
	case EventNotDeleted:
		e.kept = append(e.kept, ItemError{Path: ev.Path, Err: ev.Err, Time: ev.Time})
		if len(e.kept) > keepRecent {
			e.kept = e.kept[len(e.kept)-keepRecent:]
		}
	case EventCheckedOut:
		e.locked = append(e.locked, ItemError{Path: ev.Path, Err: ev.Err, Time: ev.Time})
		if len(e.locked) > keepRecent {
			e.locked = e.locked[len(e.locked)-keepRecent:]
		}
	case EventConflict:
		e.conflicts = append(e.conflicts, *ev.Conflict)
		if len(e.conflicts) > keepRecent {
			e.conflicts = e.conflicts[len(e.conflicts)-keepRecent:]
		}
	}
	for ch := range e.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses events, never blocks the filesystem
		}
	}
}

func (e *events) progress(id string, t Transfer, now time.Time) {
	e.mu.Lock()
	e.transfers[id] = &t
	e.mu.Unlock()
	e.emit(Event{Kind: EventTransfer, Path: t.Path, Transfer: &t, Time: now})
}

func (e *events) finish(id string) {
	e.mu.Lock()
	delete(e.transfers, id)
	e.mu.Unlock()
}

func (e *events) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for ch := range e.subs {
		close(ch)
	}
	e.subs = map[chan Event]struct{}{}
}

// Subscribe returns a stream of events that ends when ctx is done or the
// filesystem closes. Events are dropped for a subscriber that falls behind.
func (fs *FS) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 256)
	fs.ev.mu.Lock()
	if fs.ev.closed {
		close(ch)
		fs.ev.mu.Unlock()
		return ch
	}
	fs.ev.subs[ch] = struct{}{}
	fs.ev.mu.Unlock()
	fs.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-fs.ctx.Done():
		}
		fs.ev.mu.Lock()
		defer fs.ev.mu.Unlock()
		if _, ok := fs.ev.subs[ch]; ok {
			delete(fs.ev.subs, ch)
			close(ch)
		}
	})
	return ch
}

// Status returns a snapshot of the filesystem's state.
func (fs *FS) Status() Status {
	s := Status{
		Online:      !fs.offline.Load(),
		ReadOnly:    fs.opt.ReadOnly,
		QuotaFull:   fs.quotaFull.Load(),
		Paused:      fs.wb.Paused(),
		QueueLength: fs.queue.Len(),
		CacheUsed:   fs.content.Used(),
		CacheMax:    fs.content.Max(),
	}
	if d := fs.lastDelta.Load(); d != 0 {
		s.LastSync = time.Unix(0, d)
	}
	fs.ev.mu.Lock()
	for _, t := range fs.ev.transfers {
		s.Transfers = append(s.Transfers, *t)
	}
	s.Errors = append([]ItemError(nil), fs.ev.errors...)
	s.Conflicts = append([]Conflict(nil), fs.ev.conflicts...)
	s.NotDeleted = append([]ItemError(nil), fs.ev.kept...)
	s.CheckedOut = append([]ItemError(nil), fs.ev.locked...)
	unavail := append([]string(nil), fs.ev.unavail...)
	fs.ev.mu.Unlock()
	sort.Slice(s.Transfers, func(i, j int) bool { return s.Transfers[i].Path < s.Transfers[j].Path })
	s.Pinned = fs.PinnedPaths()
	s.UnavailableOffline = fs.stillUnavailable(unavail)
	s.RootProblem = fs.RootProblem()
	return s
}

// stillUnavailable returns the paths of the folders keys whose children
// are still unknown, forgetting the others (deleted, or known since from
// a full delta enumeration).
func (fs *FS) stillUnavailable(keys []string) []string {
	var out []string
	for _, k := range keys {
		if r, err := fs.get(k); err == nil && !fs.childrenKnown(r) {
			out = append(out, fs.pathOf(k))
		} else {
			fs.ev.listed(k)
		}
	}
	return out
}
