package meta

import (
	"errors"
	"testing"
	"time"
)

// openTestQueue opens the store in dir and its queue.
func openTestQueue(t *testing.T, dir string) (*Store, *Queue) {
	t.Helper()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(st, testSealer(t), nil)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, q
}

// dues is a Scheduler that records the last due time of each key.
type dues map[string]time.Time

func (d dues) Schedule(key string, due time.Time) { d[key] = due }
func (d dues) Cancel(key string)                  { delete(d, key) }

func TestQueueJournalAndBackoff(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	q, err := OpenQueue(st, testSealer(t), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	sched := dues{}
	q.SetScheduler(sched)
	q.Add("a", OpUpload, "", "")
	var delays []time.Duration
	for range 12 {
		due, ok := sched["a"]
		if !ok {
			t.Fatal("a not scheduled")
		}
		if due.After(now) {
			now = due
		}
		j, ok := q.Claim("a")
		if !ok {
			t.Fatalf("Claim(a) at its due time %v = false", due)
		}
		start := now
		q.Retry(j, 0, errors.New("boom"), false)
		jj, _ := q.Get("a")
		if sched["a"] != jj.NextAt {
			t.Fatalf("scheduled at %v, journaled NextAt %v", sched["a"], jj.NextAt)
		}
		delays = append(delays, jj.NextAt.Sub(start))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	for i, d := range delays {
		if d != want[i]*time.Second {
			t.Fatalf("backoff %d = %s, want %s (all %v)", i, d, want[i]*time.Second, delays)
		}
	}
	if _, ok := q.Claim("a"); ok {
		t.Fatal("Claim before the backoff ended = true")
	}
	j, _ := q.Get("a")
	j.Session = &Session{URL: "u", Next: 42}
	q.Save(j)
	st.Close()

	st, _ = OpenStore(dir)
	defer st.Close()
	q, _ = OpenQueue(st, testSealer(t), func() time.Time { return now.Add(time.Hour) })
	j, ok := q.Get("a")
	if !ok || j.Session == nil || j.Session.Next != 42 || j.Attempts != 12 {
		t.Fatalf("journaled job after reopen = %+v", j)
	}
	sched = dues{}
	q.SetScheduler(sched)
	if sched["a"] != j.NextAt {
		t.Fatalf("after reopen a is scheduled at %v, want its journaled %v", sched["a"], j.NextAt)
	}
	got, ok := q.Claim("a")
	if !ok || got.Key != "a" {
		t.Fatalf("Claim = %+v, %v", got, ok)
	}
	q.Done(got, OpUpload)
	if q.Len() != 0 || q.Pending("a") {
		t.Fatal("job still queued after Done")
	}
}

// TestQueueRunEnds: how a claimed run ends when the job changed while it
// ran (ops added, dropped, cancelled).
func TestQueueRunEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		// during runs between Claim and the end of the run.
		during func(q *Queue)
		end    func(q *Queue, claimed Job) error
		// wantOps is the job left (ok false: none); wantDue whether it
		// is scheduled.
		wantOps      Op
		wantOK       bool
		wantAttempts int
	}{
		{"done", nil, func(q *Queue, j Job) error { return q.Done(j, OpUpload|OpTouch) }, 0, false, 0},
		{"done, some ops left", nil, func(q *Queue, j Job) error { return q.Done(j, OpUpload) }, OpTouch, true, 0},
		{"done after an add: all again", func(q *Queue) { q.Add("k", OpMove, "", "") },
			func(q *Queue, j Job) error { return q.Done(j, OpUpload|OpTouch) }, OpUpload | OpTouch | OpMove, true, 0},
		{"cancelled: not a failure", nil, func(q *Queue, j Job) error { return q.Cancelled(j, OpTouch) }, OpUpload, true, 0},
		{"cancelled after a drop", func(q *Queue) { q.Drop("k") },
			func(q *Queue, j Job) error { return q.Cancelled(j, 0) }, 0, false, 0},
		{"retry", nil, func(q *Queue, j Job) error { return q.Retry(j, OpTouch, errors.New("boom"), false) }, OpUpload, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, q := openTestQueue(t, t.TempDir())
			defer st.Close()
			sched := dues{}
			q.SetScheduler(sched)
			must(t, q.Add("k", OpUpload|OpTouch, "", ""))
			claimed, ok := q.Claim("k")
			if !ok {
				t.Fatal("Claim(k) = false")
			}
			delete(sched, "k")
			if tc.during != nil {
				tc.during(q)
			}
			must(t, tc.end(q, claimed))
			j, ok := q.Get("k")
			if ok != tc.wantOK || j.Ops != tc.wantOps || j.Attempts != tc.wantAttempts {
				t.Fatalf("job after the run = %+v (%v), want ops %b, attempts %d (%v)", j, ok, tc.wantOps, tc.wantAttempts, tc.wantOK)
			}
			if _, due := sched["k"]; due != tc.wantOK {
				t.Errorf("scheduled after the run = %v, want %v", due, tc.wantOK)
			}
		})
	}
}

// TestQueueDropKeepsASessionToCancel: a job dropped while it held an
// upload session keeps only the session, so that its next run (after a
// crash too) cancels it on the server.
func TestQueueDropKeepsASessionToCancel(t *testing.T) {
	dir := t.TempDir()
	st, q := openTestQueue(t, dir)
	must(t, q.Add("k", OpUpload, "", ""))
	j, _ := q.Get("k")
	j.Session = &Session{URL: "https://upload/1", Next: 10}
	must(t, q.Save(j))
	must(t, q.Drop("k"))
	st.Close()
	st, q = openTestQueue(t, dir)
	defer st.Close()
	j, ok := q.Get("k")
	if !ok || j.Ops != 0 || j.Session == nil || j.Session.URL != "https://upload/1" {
		t.Fatalf("dropped job after reopen = %+v (%v), want its session only", j, ok)
	}
	j.Session = nil
	must(t, q.Save(j))
	must(t, q.Done(j, 0))
	if q.Pending("k") {
		t.Fatal("job kept after its session was cancelled")
	}
}

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer(make([]byte, 32), "drive-1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
