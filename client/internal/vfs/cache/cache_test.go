package cache

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"
)

func newContent(t testing.TB, dir string, max int64) (*Store, *Content) {
	t.Helper()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{9}, 32)
	c, err := OpenContent(ContentOptions{Dir: dir + "/blocks", Store: st, Key: key, MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSparseContentSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	remote := rnd(3*BlockSize + 100)
	f := c.Acquire("item1", "v1", int64(len(remote)))
	runs := f.Claim(1, 3)
	if len(runs) != 1 || runs[0] != [2]int64{1, 3} {
		t.Fatalf("Claim(1,3) = %v, want [[1 3]]", runs)
	}
	if again := f.Claim(0, 3); len(again) != 1 || again[0] != [2]int64{0, 0} {
		t.Fatalf("second Claim = %v, want only block 0", again)
	}
	f.Abort(0)
	for idx := int64(1); idx <= 3; idx++ {
		end := min((idx+1)*BlockSize, int64(len(remote)))
		if err := f.Fill(idx, remote[idx*BlockSize:end]); err != nil {
			t.Fatal(err)
		}
	}
	if !f.Missing(0, 0) || f.Missing(1, 3) {
		t.Fatal("presence wrong after filling blocks 1-3")
	}
	buf := make([]byte, 1000)
	if _, err := f.ReadAt(buf, 10); !errors.Is(err, ErrMissing) {
		t.Fatalf("ReadAt of an absent block = %v, want ErrMissing", err)
	}
	if n, err := f.ReadAt(buf, 2*BlockSize-10); err != nil || n != 1000 || !bytes.Equal(buf, remote[2*BlockSize-10:][:1000]) {
		t.Fatalf("ReadAt across blocks = %d, %v", n, err)
	}
	used := c.Used()
	if used != 3*alignedSlot {
		t.Fatalf("Used = %d, want %d", used, 3*alignedSlot)
	}
	f.Release()
	c.Close()
	st.Close()

	st, c = newContent(t, dir, 1<<30)
	defer st.Close()
	if c.Used() != used {
		t.Fatalf("Used after reopen = %d, want %d", c.Used(), used)
	}
	f = c.Acquire("item1", "v1", int64(len(remote)))
	if n, err := f.ReadAt(buf, 3*BlockSize); err != nil || n != 100 || !bytes.Equal(buf[:100], remote[3*BlockSize:]) {
		t.Fatalf("ReadAt of the tail after reopen = %d, %v", n, err)
	}
	f.Release()
	// A new remote version empties the clean entry.
	f = c.Acquire("item1", "v2", 5)
	if !f.Missing(0, 0) || c.Used() != 0 {
		t.Fatalf("stale version kept: used %d", c.Used())
	}
	f.Release()
}

func TestWriteTruncateSemantics(t *testing.T) {
	_, c := newContent(t, t.TempDir(), 1<<30)
	f := c.Acquire("k", "", 0)
	defer f.Release()
	model := []byte{}
	write := func(p []byte, off int64) {
		t.Helper()
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
		if end := off + int64(len(p)); end > int64(len(model)) {
			model = append(model, make([]byte, end-int64(len(model)))...)
		}
		copy(model[off:], p)
	}
	write(rnd(BlockSize+7), 3)
	write([]byte("abc"), 2*BlockSize+50) // leaves a hole
	if err := f.Truncate(BlockSize + 1); err != nil {
		t.Fatal(err)
	}
	model = model[:BlockSize+1]
	if err := f.Truncate(3 * BlockSize); err != nil {
		t.Fatal(err)
	}
	model = append(model, make([]byte, 3*BlockSize-len(model))...)
	got := make([]byte, len(model))
	if n, err := f.ReadAt(got, 0); err != nil || n != len(model) || !bytes.Equal(got, model) {
		t.Fatalf("content after writes and truncates differs (n=%d, err=%v)", n, err)
	}
	if e := f.Entry(); !e.Dirty || e.Size != int64(len(model)) {
		t.Fatalf("entry = %+v", e)
	}
	if size, ok := c.DirtySize("k"); !ok || size != int64(len(model)) {
		t.Fatalf("DirtySize = %d, %v", size, ok)
	}
}

func TestBlocksAreBoundToTheirPosition(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	defer st.Close()
	f := c.Acquire("k", "", 0)
	f.WriteAt(bytes.Repeat([]byte("A"), 2*BlockSize), 0)
	f.Sync()
	path := f.path()
	f.Release()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("AAAAAAAA")) {
		t.Fatal("plaintext on disk")
	}
	swapped := append(append([]byte(nil), raw[alignedSlot:2*alignedSlot]...), raw[:alignedSlot]...)
	os.WriteFile(path, swapped, 0o600)
	f = c.Acquire("k", "", 0)
	defer f.Release()
	if _, err := f.ReadAt(make([]byte, 10), 0); err == nil {
		t.Fatal("a block moved to another position decrypted")
	}
}

func TestEvictionIsLRUAndSkipsPinnedAndDirty(t *testing.T) {
	now := time.Unix(1000, 0)
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := OpenContent(ContentOptions{Dir: t.TempDir(), Store: st, Key: make([]byte, 32), MaxBytes: 3 * alignedSlot,
		Pinned: func(k string) bool { return k == "pinned" }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pinned", "old", "dirty", "new"} {
		f := c.Acquire(k, "v", BlockSize)
		f.Claim(0, 0)
		f.Fill(0, rnd(BlockSize))
		if k == "dirty" {
			f.WriteAt([]byte("x"), 0)
		}
		f.Release()
		now = now.Add(time.Second)
	}
	if n := c.Evict(); n != 1 {
		t.Fatalf("Evict dropped %d files, want 1", n)
	}
	if c.Used() > 3*alignedSlot {
		t.Fatalf("Used %d over the bound", c.Used())
	}
	for k, want := range map[string]bool{"pinned": true, "old": false, "dirty": true, "new": true} {
		f := c.Acquire(k, "v", BlockSize)
		if got := !f.Missing(0, 0); got != want {
			t.Errorf("%s cached = %v, want %v", k, got, want)
		}
		f.Release()
	}
	if head, ok := c.Head("old", "v"); !ok || len(head) != HeadSize {
		t.Errorf("header of the evicted file not kept (%d bytes, %v)", len(head), ok)
	}
}

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

// BenchmarkBlockCrypto measures AES-256-GCM on one 128 KiB cache block
// against a plain copy: the cost of encryption at rest.
func BenchmarkBlockCrypto(b *testing.B) {
	_, c := newContent(b, b.TempDir(), 1<<30)
	plain := rnd(BlockSize)
	ad := []byte("0123456789abcdef01234567")
	sealed := c.seal(plain, ad)
	b.Run("copy", func(b *testing.B) {
		dst := make([]byte, BlockSize)
		b.SetBytes(BlockSize)
		for b.Loop() {
			copy(dst, plain)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			c.seal(plain, ad)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			if _, err := c.open(sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCacheWriteRead measures writing then reading 32 MiB through a
// cache file (encryption plus disk I/O).
func BenchmarkCacheWriteRead(b *testing.B) {
	st, c := newContent(b, b.TempDir(), 1<<40)
	defer st.Close()
	data := rnd(32 << 20)
	buf := make([]byte, BlockSize)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		f := c.Acquire(string(rune('a'+i%20))+"k", "", 0)
		for off := 0; off < len(data); off += BlockSize {
			f.WriteAt(data[off:off+BlockSize], int64(off))
		}
		for off := 0; off < len(data); off += BlockSize {
			f.ReadAt(buf, int64(off))
		}
		f.Release()
		c.Remove(f.Key())
	}
}

func TestRecordEncodingRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{},
		{Key: "k", Name: "n"},
		{Key: "L-1", RemoteID: "ID9", ParentKey: "p", Name: "a b.docx", RemoteName: "~WRL0001.tmp", IsDir: true, Size: 1 << 40,
			ETag: `"{x},1"`, CTag: `"c:{x},1"`, QuickXorHash: "AAAA", ModTime: time.Unix(1700000000, 123), ListedAt: time.Unix(5, 0)},
		{Key: "neg", Size: -1, ModTime: time.Unix(-5, 0)},
		{Key: "S1", RemoteID: "S1", Name: "Reports", IsDir: true, LinkDrive: "b!fin", LinkID: "T1"},
		{Key: "T2", RemoteID: "T2", ParentKey: "S1", Name: "Q1.txt", Drive: "b!fin", Size: 22},
	} {
		got, err := decodeRecord(encodeRecord(r))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", r, err)
		}
		if !got.ModTime.Equal(r.ModTime) || !got.ListedAt.Equal(r.ListedAt) {
			t.Fatalf("times: got %+v, want %+v", got, r)
		}
		got.ModTime, got.ListedAt, r.ModTime, r.ListedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != r {
			t.Fatalf("got %+v, want %+v", got, r)
		}
	}
	// A record written before shortcuts (format 1) still decodes.
	v1 := []byte{1}
	for _, f := range []string{"k", "", "p", "n", "", "", "", ""} {
		v1 = append(v1, byte(len(f)))
		v1 = append(v1, f...)
	}
	v1 = append(v1, 0, 6, 0, 0)
	if got, err := decodeRecord(v1); err != nil || got.Key != "k" || got.Name != "n" || got.Size != 3 {
		t.Errorf("decodeRecord(format 1) = %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2}, {3}, {1, 200}, {1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%v) succeeded", bad)
		}
	}
}

// FuzzDecodeRecord checks that no stored bytes make the decoder panic, and
// that what decodes re-encodes to a record that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(Record{Key: "k", Name: "n", Size: 3, ModTime: time.Unix(1, 0)}))
	f.Add([]byte(`{"k":"x","n":"y"}`))
	f.Add([]byte{1, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := decodeRecord(encodeRecord(r))
		if err != nil || again.Key != r.Key || again.Name != r.Name || again.Size != r.Size {
			t.Fatalf("re-encoding %+v gave %+v, %v", r, again, err)
		}
	})
}

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer(make([]byte, 32), "drive-1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
