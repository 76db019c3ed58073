package cli

import (
	"bytes"
	"testing"

	"github.com/mapdrive/mapdrive/shared/hermetic"
)

// The tests run serve and the operator commands in-process, reading the
// real environment: a shell's MAPDRIVE_* must not reach them.
func TestMain(m *testing.M) { hermetic.Main(m) }

// TestHermetic runs serve's settings parsing, on the real environment,
// under a shell that exported the desktop client's MAPDRIVE_CLIENT_ID
// (demo/env.sh) and a MAPDRIVESVC_CLIENT_ID: the service keeps its
// default (none) and logs no warning about either.
func TestHermetic(t *testing.T) {
	hermetic.Check(t, func(t *testing.T) {
		var logs bytes.Buffer
		fs, c := newFlags("serve", Options{Stderr: &logs})
		var f serveFlags
		fs.add(f.settings()...)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		c.logger(&logs)
		if f.clientID != "" || c.logLevel != "info" || logs.Len() != 0 {
			t.Errorf("serve read client id %q, log level %q, logged %q; want none, info and no warning", f.clientID, c.logLevel, logs.String())
		}
	})
}
