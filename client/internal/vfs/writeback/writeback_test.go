package writeback

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a put callback that logs each run. A key in block waits in
// its put until its context ends or the test releases it.
type recorder struct {
	mu      sync.Mutex
	runs    []string // key, in the order the runs started
	ended   []string // keys whose context ended, with its cause
	block   map[string]chan struct{}
	started chan string
}

func newRecorder(blocked ...string) *recorder {
	r := &recorder{block: map[string]chan struct{}{}, started: make(chan string, 100)}
	for _, k := range blocked {
		r.block[k] = make(chan struct{})
	}
	return r
}

func (r *recorder) put(ctx context.Context, key string) {
	r.mu.Lock()
	r.runs = append(r.runs, key)
	release := r.block[key]
	r.mu.Unlock()
	r.started <- key
	if release == nil {
		return
	}
	select {
	case <-release:
	case <-ctx.Done():
		r.mu.Lock()
		r.ended = append(r.ended, key+": "+context.Cause(ctx).Error())
		r.mu.Unlock()
	}
}

func (r *recorder) release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.block[key])
	delete(r.block, key)
}

func (r *recorder) got() (runs, ended []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runs), slices.Clone(r.ended)
}

func TestWriteback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		blocked []string
		// steps runs against the started writeback; t0 is when it started.
		steps     func(t *testing.T, w *Writeback, r *recorder, t0 time.Time)
		wantRuns  []string
		wantEnded []string
	}{{
		name: "due order, not the order of scheduling", workers: 1,
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("c", t0.Add(3*time.Second))
			w.Schedule("a", t0.Add(time.Second))
			w.Schedule("b", t0.Add(2*time.Second))
			w.Schedule("now", time.Time{})
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"now", "a", "b", "c"},
	}, {
		name: "rescheduling a waiting key moves it", workers: 1,
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", t0.Add(time.Second))
			w.Schedule("b", t0.Add(2*time.Second))
			w.Schedule("a", t0.Add(3*time.Second))
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"b", "a"},
	}, {
		name: "not before its due time", workers: 1,
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", t0.Add(time.Hour))
			time.Sleep(59 * time.Minute)
			synctest.Wait()
			if runs, _ := r.got(); len(runs) != 0 {
				t.Fatalf("runs before the due time = %v", runs)
			}
			time.Sleep(2 * time.Minute)
		},
		wantRuns: []string{"a"},
	}, {
		name: "re-add of a running key runs again after", workers: 2, blocked: []string{"a"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", time.Time{})
			<-r.started
			w.Schedule("a", time.Time{})
			synctest.Wait()
			if runs, _ := r.got(); len(runs) != 1 {
				t.Fatalf("runs while a runs = %v, want only the first (never two of one key at once)", runs)
			}
			r.release("a")
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"a", "a"},
	}, {
		name: "re-add of a running key keeps the new due time", workers: 1, blocked: []string{"a"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", time.Time{})
			<-r.started
			w.Schedule("a", t0.Add(time.Hour))
			w.Schedule("b", t0.Add(time.Minute))
			r.release("a")
			time.Sleep(2 * time.Hour)
		},
		wantRuns: []string{"a", "b", "a"},
	}, {
		name: "workers bound how many run at once", workers: 2, blocked: []string{"a", "b", "c"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			for i, k := range []string{"a", "b", "c"} {
				w.Schedule(k, t0.Add(time.Duration(i)*time.Second))
			}
			time.Sleep(time.Minute)
			if runs, _ := r.got(); len(runs) != 2 {
				t.Fatalf("running at once = %v, want 2", runs)
			}
			r.release("a")
			r.release("b")
			r.release("c")
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"a", "b", "c"},
	}, {
		name: "cancel of a running key ends its context at once", workers: 1, blocked: []string{"a"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", time.Time{})
			<-r.started
			w.Schedule("a", time.Time{}) // a run after this one, which Cancel drops too
			w.Cancel("a")
			synctest.Wait()
			if w.Running("a") {
				t.Fatal("a still running after Cancel")
			}
			time.Sleep(time.Minute)
		},
		wantRuns:  []string{"a"},
		wantEnded: []string{"a: " + ErrCancelled.Error()},
	}, {
		name: "cancel then schedule of a running key runs it again", workers: 1, blocked: []string{"a"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", time.Time{})
			<-r.started
			w.Cancel("a")
			w.Schedule("a", time.Time{})
			<-r.started
			r.release("a")
			time.Sleep(time.Minute)
		},
		wantRuns:  []string{"a", "a"},
		wantEnded: []string{"a: " + ErrCancelled.Error()},
	}, {
		name: "cancel of a waiting key: it never runs", workers: 1,
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", t0.Add(time.Second))
			w.Schedule("b", t0.Add(2*time.Second))
			w.Cancel("a")
			w.Cancel("unknown")
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"b"},
	}, {
		name: "cancel touches only its key", workers: 2, blocked: []string{"a", "b"},
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.Schedule("a", time.Time{})
			w.Schedule("b", t0.Add(time.Second))
			<-r.started
			<-r.started
			w.Cancel("a")
			synctest.Wait()
			if !w.Running("b") {
				t.Fatal("b stopped by Cancel(a)")
			}
			r.release("b")
			time.Sleep(time.Minute)
		},
		wantRuns:  []string{"a", "b"},
		wantEnded: []string{"a: " + ErrCancelled.Error()},
	}, {
		name: "paused: nothing starts until resumed", workers: 1,
		steps: func(t *testing.T, w *Writeback, r *recorder, t0 time.Time) {
			w.SetPaused(true)
			w.Schedule("a", time.Time{})
			time.Sleep(time.Hour)
			synctest.Wait()
			if runs, _ := r.got(); len(runs) != 0 || !w.Paused() {
				t.Fatalf("runs while paused = %v", runs)
			}
			w.SetPaused(false)
			time.Sleep(time.Minute)
		},
		wantRuns: []string{"a"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRecorder(tc.blocked...)
				w := New(Options{Put: r.put, Workers: tc.workers})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- w.Run(ctx) }()
				tc.steps(t, w, r, time.Now())
				synctest.Wait()
				runs, ended := r.got()
				if !slices.Equal(runs, tc.wantRuns) {
					t.Errorf("runs = %v, want %v", runs, tc.wantRuns)
				}
				if !slices.Equal(ended, tc.wantEnded) {
					t.Errorf("contexts ended = %v, want %v", ended, tc.wantEnded)
				}
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
			})
		})
	}
}

// TestRunStopsRunningJobs: ending Run's context ends every running job's
// context (with that context's cause, not ErrCancelled) and Run returns
// only once their puts did.
func TestRunStopsRunningJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder("a")
		w := New(Options{Put: r.put, Workers: 1})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		w.Schedule("a", time.Time{})
		<-r.started
		cancel()
		<-done
		if _, ended := r.got(); !slices.Equal(ended, []string{"a: " + context.Canceled.Error()}) {
			t.Fatalf("contexts ended = %v, want a's by Run's context", ended)
		}
	})
}
