// Package writeback schedules the upload queue: which job runs next (a
// heap ordered by due time), how many run at once, and a context per
// running job that Cancel ends at once, so that deleting or renaming a
// file stops its upload instead of letting it run to the end.
//
// It knows nothing of files or of the journal. The vfs journals each job
// (meta.Queue, which stays authoritative and survives a crash) and tells
// the writeback when a key is due (Schedule); a worker then calls the put
// callback with the key and the job's context. A key is scheduled at most
// once: scheduling a running key runs it again after the current run.
package writeback

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// ErrCancelled is the cause (context.Cause) of a job context that Cancel
// ended. Stopping the writeback ends them with its own context's cause.
var ErrCancelled = errors.New("writeback: job cancelled")

// PutFunc runs key's job. ctx ends when Cancel(key) is called (its cause
// is then ErrCancelled) or when Run's context ends.
type PutFunc func(ctx context.Context, key string)

// Options configure a Writeback.
type Options struct {
	// Put runs one job; required.
	Put PutFunc
	// Workers is how many jobs run at once; 0 means 4.
	Workers int
	// Now and After are the clock; nil means the time package's.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Writeback runs due jobs through the put callback. It is safe for
// concurrent use.
type Writeback struct {
	// Immutable after New.
	put     PutFunc
	workers int
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	kick    chan struct{} // 1-buffered: the scheduling loop rescans

	mu      sync.Mutex // guards everything below; never held while calling put
	items   map[string]*item
	waiting dueHeap // the items not running, soonest due first
	running int
	paused  bool
}

// item is one key known to the writeback: waiting (index >= 0) or running.
type item struct {
	key   string
	due   time.Time
	index int // in waiting; -1 when not there
	// Set while running.
	cancel context.CancelCauseFunc
	// again: Schedule came while running; run again at againDue after.
	again    bool
	againDue time.Time
}

// New returns a Writeback; Run starts it.
func New(o Options) *Writeback {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Writeback{put: o.Put, workers: o.Workers, now: o.Now, after: o.After,
		kick: make(chan struct{}, 1), items: map[string]*item{}}
}

func (w *Writeback) kickLoop() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Schedule makes key due at due (the zero time: now), replacing its
// earlier due time. A running key runs once more, at due, after its
// current run.
func (w *Writeback) Schedule(key string, due time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	it := w.items[key]
	if it == nil {
		it = &item{key: key, index: -1}
		w.items[key] = it
	}
	if it.cancel != nil {
		it.again, it.againDue = true, due
		return
	}
	it.due = due
	if it.index >= 0 {
		heap.Fix(&w.waiting, it.index)
	} else {
		heap.Push(&w.waiting, it)
	}
	w.kickLoop()
}

// Cancel stops key: a waiting run is forgotten, and a running job's
// context ends at once with cause ErrCancelled (its put returns when it
// notices), without a run after it. Schedule it again to run it again.
func (w *Writeback) Cancel(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	it := w.items[key]
	switch {
	case it == nil:
	case it.cancel != nil:
		it.again = false
		it.cancel(ErrCancelled)
	default:
		heap.Remove(&w.waiting, it.index)
		delete(w.items, key)
	}
}

// SetPaused stops (or resumes) starting jobs; running jobs go on.
func (w *Writeback) SetPaused(paused bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = paused
	w.kickLoop()
}

// Paused reports whether starting jobs is paused.
func (w *Writeback) Paused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// Running reports whether key's job is running.
func (w *Writeback) Running(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	it := w.items[key]
	return it != nil && it.cancel != nil
}

// Run starts due jobs, at most Workers at once, until ctx ends; it then
// waits for the running ones (their contexts end with ctx) and returns
// ctx's error.
func (w *Writeback) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		w.mu.Lock()
		var timer <-chan time.Time
		for !w.paused && w.running < w.workers && len(w.waiting) > 0 {
			it := w.waiting[0]
			now := w.now()
			if it.due.After(now) {
				timer = w.after(it.due.Sub(now))
				break
			}
			heap.Pop(&w.waiting)
			jctx, cancel := context.WithCancelCause(ctx)
			it.cancel = cancel
			w.running++
			wg.Go(func() {
				w.put(jctx, it.key)
				w.finish(it)
			})
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.kick:
		case <-timer:
		}
	}
}

// finish ends it's run: it waits again when it was scheduled meanwhile.
func (w *Writeback) finish(it *item) {
	w.mu.Lock()
	defer w.mu.Unlock()
	it.cancel(nil)
	it.cancel = nil
	w.running--
	if it.again {
		it.again, it.due = false, it.againDue
		heap.Push(&w.waiting, it)
	} else {
		delete(w.items, it.key)
	}
	w.kickLoop()
}

// dueHeap orders waiting items by due time (container/heap).
type dueHeap []*item

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(a, b int) bool { return h[a].due.Before(h[b].due) }
func (h dueHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].index, h[b].index = a, b
}

func (h *dueHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}

func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.index = -1
	*h = old[:len(old)-1]
	return it
}
