package meta

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const testSessionURL = "https://contoso-my.sharepoint.com/personal/alice/_api/v2.0/drives/b!x/items/01AB/uploadSession?guid=9f1c&tempauth=eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.secret-part"

// urlForms are the ways a URL could sit in a file.
func urlForms(u string) map[string][]byte {
	jsonStr, _ := json.Marshal(u)
	return map[string][]byte{
		"plain":      []byte(u),
		"tempauth":   []byte("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.secret-part"),
		"base64":     []byte(base64.StdEncoding.EncodeToString([]byte(u))),
		"base64url":  []byte(base64.URLEncoding.EncodeToString([]byte(u))),
		"urlescaped": []byte(url.QueryEscape(u)),
		"json":       jsonStr,
	}
}

// TestSessionURLSealedAtRest: a journaled upload session's URL is in
// meta.db in no form, and comes back on reopen with the same key and
// drive only.
func TestSessionURLSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(st, testSealer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Add("k1", OpUpload, "", ""); err != nil {
		t.Fatal(err)
	}
	j, _ := q.Get("k1")
	j.Session = &Session{URL: testSessionURL, Next: 320 << 10, Size: 1 << 20, Expiration: time.Now().Add(time.Hour)}
	if err := q.Save(j); err != nil {
		t.Fatal(err)
	}
	st.Close()

	raw, err := os.ReadFile(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	for form, b := range urlForms(testSessionURL) {
		if bytes.Contains(raw, b) {
			t.Errorf("meta.db holds the session URL (%s)", form)
		}
	}

	reopen := func(s *Sealer) *Session {
		t.Helper()
		st, err := OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		q, err := OpenQueue(st, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		j, ok := q.Get("k1")
		if !ok {
			t.Fatal("job lost on reopen")
		}
		return j.Session
	}
	if s := reopen(testSealer(t)); s == nil || s.URL != testSessionURL || s.Next != 320<<10 {
		t.Fatalf("session after reopen = %+v, want the URL back", s)
	}
	other, _ := NewSealer(make([]byte, 32), "drive-2")
	if s := reopen(other); s != nil {
		t.Errorf("session opened under another drive's binding = %+v, want it forgotten", s)
	}
	otherKey := bytes.Repeat([]byte{1}, 32)
	wrongKey, _ := NewSealer(otherKey, "drive-1")
	if s := reopen(wrongKey); s != nil {
		t.Errorf("session opened under another key = %+v, want it forgotten", s)
	}
}

// TestLegacySessionURLResealed: a journal of an older version, with the
// URL in clear, is read and written back sealed.
func TestLegacySessionURLResealed(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte(`{"k":"k1","o":4,"s":{"u":"` + testSessionURL + `","x":"0001-01-01T00:00:00Z","s":10,"g":1,"n":5}}`)
	if err := st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketJobs).Put([]byte("k1"), old) }); err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(st, testSealer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := q.Get("k1"); j.Session == nil || j.Session.URL != testSessionURL {
		t.Fatalf("legacy session = %+v, want its URL", j.Session)
	}
	var stored []byte
	st.db.View(func(tx *bolt.Tx) error { stored = bytes.Clone(tx.Bucket(bucketJobs).Get([]byte("k1"))); return nil })
	if bytes.Contains(stored, []byte("uploadSession")) || !bytes.Contains(stored, []byte(`"su"`)) {
		t.Errorf("journal entry after open = %s, want the URL sealed", stored)
	}
	st.Close()
}
