// Package testenv gives the service's tests their databases: a SQLite file
// and, when scripts/test-env.sh has started it, a fresh PostgreSQL database
// per test, plus the raw bytes of each for plaintext scans. Tests that
// need PostgreSQL fail under CI when it is missing, and skip outside CI.
package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// DSNEnv names the variable holding the PostgreSQL DSN of the test role.
const DSNEnv = "MAPDRIVE_TEST_PG_DSN"

// DB is one database a test runs against.
type DB struct {
	Name string // "sqlite" or "postgres"
	Addr string // store address (store.SplitDSN)
	path string // sqlite file
	dsn  string // postgres DSN
}

// Databases returns a fresh SQLite database and a fresh PostgreSQL
// database, dropped at the end of the test.
func Databases(t testing.TB) []DB {
	t.Helper()
	dbs := []DB{SQLite(t)}
	if pg, ok := Postgres(t); ok {
		dbs = append(dbs, pg)
	}
	return dbs
}

// SQLite returns a fresh SQLite database in the test's temp dir.
func SQLite(t testing.TB) DB {
	p := filepath.Join(t.TempDir(), "mapdrive.db")
	return DB{Name: "sqlite", Addr: "sqlite:" + p, path: p}
}

// Postgres returns a fresh PostgreSQL database. Without MAPDRIVE_TEST_PG_DSN
// it fails the test under CI and returns false (after logging why)
// outside CI.
func Postgres(t testing.TB) (DB, bool) {
	t.Helper()
	admin := os.Getenv(DSNEnv)
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: scripts/test-env.sh must start PostgreSQL in CI", DSNEnv)
		}
		t.Logf("PostgreSQL part skipped: %s is not set (source scripts/test-env.sh)", DSNEnv)
		return DB{}, false
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	psql(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { psql(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", DSNEnv, err)
	}
	u.Path = "/" + name
	return DB{Name: "postgres", Addr: u.String(), dsn: u.String()}, true
}

func psql(t testing.TB, dsn, sql string) {
	t.Helper()
	out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v: %s", sql, err, out)
	}
}

// Raw returns the database's stored bytes: the SQLite file with its WAL
// and journal, or a pg_dump of the PostgreSQL database (data and schema,
// as psql would show them).
func (d DB) Raw(t testing.TB) []byte {
	t.Helper()
	if d.Name == "sqlite" {
		var buf bytes.Buffer
		for _, p := range []string{d.path, d.path + "-wal", d.path + "-journal", d.path + "-shm"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatalf("read %s: %v", p, err)
			}
			buf.Write(b)
		}
		return buf.Bytes()
	}
	out, err := exec.Command("pg_dump", "--inserts", d.dsn).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}

// AssertAbsent fails the test if any needle occurs in raw in any form a
// program might write it in: as is (any case), hex (psql's bytea),
// base64 and base64url (at any alignment within a longer encoded text),
// percent-encoded (a URL or a form), and UTF-16 in either byte order.
func AssertAbsent(t testing.TB, where string, raw []byte, needles ...string) {
	t.Helper()
	for _, n := range needles {
		for _, form := range Find(raw, n) {
			t.Errorf("%s contains %q (%s)", where, n, form)
		}
	}
}

// AssertDirAbsent reads every regular file under each of dirs (a
// service's data folder with its database, WAL, key file and
// certificates; a backup folder) and fails the test if any needle occurs
// in any of them in any form AssertAbsent knows. It returns the files it
// read, relative to their folder, so a caller can prove the scan saw what
// it should. A folder that does not exist holds nothing and is skipped.
func AssertDirAbsent(t testing.TB, where string, dirs []string, needles ...string) []string {
	t.Helper()
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == dir {
					return fs.SkipDir
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.Join(filepath.Base(dir), rel))
			for _, n := range needles {
				for _, form := range Find(raw, n) {
					t.Errorf("%s: %s contains %q (%s)", where, path, n, form)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: scan %s: %v", where, dir, err)
		}
	}
	return files
}

// Find returns the names of the forms in which n occurs in raw.
func Find(raw []byte, n string) []string {
	if n == "" {
		return nil
	}
	lower := bytes.ToLower(raw)
	var found []string
	for _, f := range Encodings(n) {
		hay := raw
		if f.foldCase {
			hay = lower
		}
		if bytes.Contains(hay, f.text) && !slices.Contains(found, f.name) {
			found = append(found, f.name)
		}
	}
	return found
}

// Encoding is one form of a needle AssertAbsent looks for.
type Encoding struct {
	name     string
	text     []byte
	foldCase bool // compared with the data lower-cased
}

// Encodings lists the forms of n that AssertAbsent looks for.
func Encodings(n string) []Encoding {
	ln := strings.ToLower(n)
	out := []Encoding{
		{"as is", []byte(ln), true},
		{"hex", []byte(hex.EncodeToString([]byte(ln))), true},
		{"percent-encoded", []byte(strings.ToLower(url.QueryEscape(ln))), true},
		{"percent-encoded path", []byte(strings.ToLower(url.PathEscape(ln))), true},
		{"UTF-16LE", utf16Bytes(ln, false), true},
		{"UTF-16BE", utf16Bytes(ln, true), true},
	}
	for _, v := range []string{n, ln} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for align := range 3 {
				if b := base64Core(enc, v, align); len(b) >= 8 {
					out = append(out, Encoding{fmt.Sprintf("base64 at offset %d", align), b, false})
				}
			}
		}
	}
	return out
}

// base64Core is the part of the base64 of v, preceded by align other
// bytes, that depends on v's bytes alone: what appears wherever v sits at
// that alignment inside a longer base64 text.
func base64Core(enc *base64.Encoding, v string, align int) []byte {
	data := append(make([]byte, align), v...)
	s := enc.EncodeToString(data)
	from := map[int]int{0: 0, 1: 2, 2: 3}[align]
	to := len(data) / 3 * 4
	if to <= from {
		return nil
	}
	return []byte(s[from:to])
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// MustContain fails unless raw contains needle, to prove a scan sees data.
func MustContain(t testing.TB, where string, raw []byte, needle string) {
	t.Helper()
	if !bytes.Contains(raw, []byte(needle)) {
		t.Errorf("%s lacks %q: the scan may not see the data (%s)", where, needle, fmt.Sprint(len(raw))+" bytes")
	}
}
