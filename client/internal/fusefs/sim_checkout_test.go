//go:build linux

package fusefs

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// marketingDocs is the Marketing site's library, where alice (mounted)
// and bob are both members (directory.DemoSeed).
var marketingDocs = directory.DriveID("contoso", "site", "Marketing", "Documents")

// holderOf returns the display name of who holds p's check-out on the
// server, "" when it is published.
func (s *simMount) holderOf(p string) string {
	s.t.Helper()
	it, err := s.other.Get(context.Background(), s.driveID, p)
	if err != nil {
		s.t.Fatalf("get %s: %v", p, err)
	}
	if it.Publication == nil {
		return ""
	}
	return it.Publication.CheckedOutBy.User.DisplayName
}

// eventuallyPublished waits until p is checked in on the server.
func (s *simMount) eventuallyPublished(p string) {
	s.t.Helper()
	eventually(s.t, 30*time.Second, p+" checked in", func() bool { return s.holderOf(p) == "" })
}

// TestSimMountExclusiveEditing: through the real mount and Graph against
// m365sim, in a library alice shares with bob, with the mapping's
// exclusive editing on. Opening a file for writing checks it out (bob
// sees Alice hold it); the check-in follows the upload of the close. A
// file bob holds: read-write and write-only opens fail with EACCES, a
// read-only open reads it, and Status names Bob as the holder.
func TestSimMountExclusiveEditing(t *testing.T) {
	s := newSimMountIn(t, nil, nil, marketingDocs, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.ExclusiveEditing = true
		o.PollInterval = -1
	})
	bob := s.sim.Admin().As("contoso", "bob")
	ctx := context.Background()
	for _, name := range []string{"mine.txt", "held.txt"} {
		if _, err := bob.Upload(ctx, s.driveID, name, []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	s.seen()

	f, err := os.OpenFile(s.p("mine.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	if got := s.holderOf("/mine.txt"); got != "Alice Anders" {
		f.Close()
		t.Fatalf("while open for writing, the server shows holder %q, want Alice Anders", got)
	}
	if _, err := f.WriteAt([]byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s.sync(time.Minute)
	s.serverHas("/mine.txt", []byte("v2"))
	s.eventuallyPublished("/mine.txt")
	// Checked in, the file is bob's to edit again.
	if _, err := bob.Upload(ctx, s.driveID, "mine.txt", []byte("bob's v3")); err != nil {
		t.Errorf("bob's upload after the check-in: %v", err)
	}

	// Opened for writing and closed unchanged: checked out, then in.
	f, err = os.OpenFile(s.p("mine.txt"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.holderOf("/mine.txt"); got != "Alice Anders" {
		t.Errorf("open for writing again: holder %q, want Alice Anders", got)
	}
	f.Close()
	s.eventuallyPublished("/mine.txt")

	held, err := bob.Get(ctx, s.driveID, "held.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.JSON(ctx, http.MethodPost, "drives/"+s.driveID+"/items/"+held.ID+"/checkout", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []int{os.O_RDWR, os.O_WRONLY, os.O_WRONLY | os.O_TRUNC} {
		f, err := os.OpenFile(s.p("held.txt"), flag, 0)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("open flags %#x of a file bob holds: %v, want EACCES", flag, err)
		}
	}
	if got, err := os.ReadFile(s.p("held.txt")); err != nil || string(got) != "v1" {
		t.Errorf("read-only open of a file bob holds: %q, %v", got, err)
	}
	st := s.fs.Status()
	if !slices.ContainsFunc(st.CheckedOut, func(e vfs.ItemError) bool {
		return e.Path == "/held.txt" && strings.Contains(e.Err, "Bob Berg")
	}) {
		t.Errorf("Status.CheckedOut = %+v, want /held.txt naming Bob Berg", st.CheckedOut)
	}
	s.serverHas("/held.txt", []byte("v1"))
}

// TestSimMountLibraryRequiresCheckout: a library with "Require Check Out"
// and no exclusive-editing option. The mount learns the setting from the
// server: an edit of an existing file, refused until checked out, is
// checked out, uploaded and checked in; a new file, which the library
// leaves checked out to its author, is checked in after its upload.
func TestSimMountLibraryRequiresCheckout(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites[1].Libraries[0].RequireCheckout = true // Marketing
	s := newSimMountIn(t, []m365sim.Option{m365sim.WithSeed(seed)}, nil, marketingDocs, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.PollInterval = -1
	})
	bob := s.sim.Admin().As("contoso", "bob")
	ctx := context.Background()
	it, err := bob.Upload(ctx, s.driveID, "doc.txt", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.JSON(ctx, http.MethodPost, "drives/"+s.driveID+"/items/"+it.ID+"/checkin", map[string]string{"comment": ""}, nil); err != nil {
		t.Fatal(err)
	}
	s.seen()

	s.sh("printf v2 > doc.txt")
	s.sync(time.Minute)
	s.serverHas("/doc.txt", []byte("v2"))
	s.eventuallyPublished("/doc.txt")

	s.sh("printf new > new.txt")
	s.sync(time.Minute)
	s.serverHas("/new.txt", []byte("new"))
	s.eventuallyPublished("/new.txt")
}
