package content

import (
	"bytes"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDropCleanKeepsOnlyPendingChanges: at sign-out a drive with a change
// not uploaded keeps that change, and nothing else: the clean cached file
// and its first bytes go, and what was deleted from the store is not left
// in the file's free pages.
func TestDropCleanKeepsOnlyPendingChanges(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{9}, 32)
	st, c := newContent(t, dir, 1<<30)
	clean := rnd(BlockSize + 10)
	f := c.Acquire("clean", "v1", int64(len(clean)))
	f.Claim(0, 1)
	for idx := int64(0); idx <= 1; idx++ {
		if err := f.Fill(idx, clean[idx*BlockSize:min((idx+1)*BlockSize, int64(len(clean)))]); err != nil {
			t.Fatal(err)
		}
	}
	must(t, f.Release())
	c.putHead("clean", "v1", clean[:100])
	changed := []byte("my unsent edit")
	d := c.Acquire("dirty", "", 0)
	if _, err := d.WriteAt(changed, 0); err != nil {
		t.Fatal(err)
	}
	w, err := d.PrepareSync()
	must(t, err)
	must(t, st.Update(w))
	must(t, d.Release())
	// The drive's records: the pending file in Reports, and a file only
	// listed in Private, whose name must go.
	must(t, st.Update(func(tx *meta.Tx) error {
		for _, r := range []meta.Record{
			{Key: "root", RemoteID: "root", IsDir: true, ListedAt: time.Now()},
			{Key: "reports", RemoteID: "reports", ParentKey: "root", Name: "Reports", IsDir: true, ListedAt: time.Now()},
			{Key: "dirty", ParentKey: "reports", Name: "draft.txt"},
			{Key: "private", RemoteID: "private", ParentKey: "root", Name: "Private", IsDir: true},
			{Key: "clean", RemoteID: "clean", ParentKey: "private", Name: "salary-review-bob.xlsx"},
		} {
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		if err := tx.SetPinned("clean", true); err != nil {
			return err
		}
		return tx.SetKV(meta.KVDeltaToken, "token-1")
	}))
	sealer, err := meta.NewSealer(key, "drive-1")
	must(t, err)
	q, err := meta.OpenQueue(st, sealer, nil)
	must(t, err)
	must(t, q.Add("dirty", meta.OpUpload, "", ""))
	// A value deleted before sign-out, as an older version's clear session
	// URL is when it is resealed.
	gone := strings.Repeat("https://files.example/_upload/SECRET-SESSION ", 1000)
	must(t, st.Update(func(tx *meta.Tx) error { return tx.SetKV("old", gone) }))
	must(t, st.Update(func(tx *meta.Tx) error { return tx.SetKV("old", "") }))
	must(t, c.Close())
	must(t, st.Close())

	n, err := DropClean(dir, filepath.Join(dir, "blocks"), key)
	if err != nil || n != 1 {
		t.Fatalf("DropClean = %d, %v; want 1 file dropped", n, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "meta.db"))
	must(t, err)
	if bytes.Contains(raw, []byte("SECRET-SESSION")) {
		t.Error("meta.db still holds a deleted value in its free pages")
	}
	st, c = newContent(t, dir, 1<<30)
	defer st.Close()
	defer c.Close()
	if got := c.Keys(); !slices.Equal(got, []string{"dirty"}) {
		t.Fatalf("keys after DropClean = %v, want [dirty]", got)
	}
	if _, ok := c.Head("clean", "v1"); ok {
		t.Error("the clean file's first bytes are still cached")
	}
	for _, name := range []string{"salary-review-bob.xlsx", "Private"} {
		if bytes.Contains(raw, []byte(name)) {
			t.Errorf("meta.db still names %s, which no pending change needs", name)
		}
	}
	must(t, st.View(func(tx *meta.Tx) error {
		for _, k := range []string{"root", "reports", "dirty"} {
			r, err := tx.Get(k)
			if err != nil {
				t.Errorf("record %s, which the pending upload needs: %v", k, err)
			} else if r.IsDir && !r.ListedAt.IsZero() {
				t.Errorf("kept folder %s still counts as listed", k)
			}
		}
		if tx.GetKV(meta.KVDeltaToken) != "" || tx.Pinned("clean") {
			t.Error("the delta token or a pin survived")
		}
		return nil
	}))
	g := c.Acquire("dirty", "", 0)
	defer g.Release()
	buf := make([]byte, len(changed))
	if _, err := g.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, changed) {
		t.Fatalf("pending change after DropClean = %q, %v", buf, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
