// Package testenv gives the service's tests their databases: a SQLite file
// and, when scripts/test-env.sh has started it, a fresh PostgreSQL database
// per test, plus the raw bytes of each for plaintext scans. Tests that
// need PostgreSQL fail under CI when it is missing, and skip outside CI.
package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// AssertAbsent fails the test if any needle occurs in raw, in plain form
// or as the hex and base64-free encodings psql shows bytea in.
func AssertAbsent(t testing.TB, where string, raw []byte, needles ...string) {
	t.Helper()
	lower := bytes.ToLower(raw)
	for _, n := range needles {
		if n == "" {
			continue
		}
		for _, form := range []string{strings.ToLower(n), hex.EncodeToString([]byte(n)), strings.ToLower(hex.EncodeToString([]byte(strings.ToLower(n))))} {
			if bytes.Contains(lower, []byte(form)) {
				t.Errorf("%s contains %q (as %q)", where, n, form)
			}
		}
	}
}

// MustContain fails unless raw contains needle, to prove a scan sees data.
func MustContain(t testing.TB, where string, raw []byte, needle string) {
	t.Helper()
	if !bytes.Contains(raw, []byte(needle)) {
		t.Errorf("%s lacks %q: the scan may not see the data (%s)", where, needle, fmt.Sprint(len(raw))+" bytes")
	}
}
