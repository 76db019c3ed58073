//go:build linux

package fusefs

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/union"
)

// TestSimMountCombined mounts a combined drive (#17 item 1) through the
// real FUSE mount over the Graph client and m365sim: Finance's and
// Marketing's libraries as two top-level folders, and a third library,
// Fabrikam's Sales site, that alice cannot reach and that is therefore
// absent. Reads and writes reach each library; a rename inside one
// library is a Graph move; a rename across libraries is EXDEV, and
// /bin/mv turns it into copy + delete by itself. The root's entries are
// the admin's choice: they cannot be created, removed or renamed.
func TestSimMountCombined(t *testing.T) {
	requireFUSE(t)
	ctx := context.Background()
	sim, gc := aliceGraph(t)
	other := sim.Admin().As("contoso", "alice@contoso.com")

	// The mapping's three libraries; the agent leaves out those that do
	// not resolve for the user, and so does this test.
	targets := []struct{ name, site string }{
		{"Finance", "https://contoso.sharepoint.com/sites/Finance"},
		{"Marketing", "https://contoso.sharepoint.com/sites/Marketing"},
		{"Sales", "https://fabrikam.sharepoint.com/sites/Sales"},
	}
	var members []union.Member
	ids := map[string]string{}
	for _, tg := range targets {
		d, err := gc.DriveByURL(ctx, tg.site, "Documents")
		if err != nil {
			if tg.name != "Sales" || !(errors.Is(err, vfs.ErrNotFound) || errors.Is(err, vfs.ErrAccessDenied)) {
				t.Fatalf("DriveByURL(%s): %v", tg.name, err)
			}
			continue
		}
		if tg.name == "Sales" {
			t.Fatalf("alice reaches Fabrikam's Sales site (%s); the test needs a library she cannot reach", d.ID)
		}
		ids[tg.name] = d.ID
		key := make([]byte, 32)
		rand.Read(key)
		o := vfs.Options{Remote: graph.NewDrive(gc, d.ID), DriveID: d.ID, InoSpace: tg.name, StateDir: t.TempDir(), CacheDir: t.TempDir(),
			CacheKey: key, CacheMaxBytes: 1 << 30, PollInterval: 2 * time.Second, FolderTTL: time.Minute, Host: "testhost"}
		if os.Getenv("MAPDRIVE_TEST_LOG") != "" {
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		fsys, err := vfs.New(ctx, o)
		if err != nil {
			t.Fatalf("vfs.New(%s): %v", tg.name, err)
		}
		t.Cleanup(func() { fsys.Close() })
		members = append(members, union.Member{Name: tg.name, FS: fsys})
	}
	u, err := union.New(false, members)
	if err != nil {
		t.Fatal(err)
	}
	e := &mountEnv{t: t, dir: filepath.Join(t.TempDir(), "mnt")}
	m, err := Mount(ctx, u, e.dir, Options{Debug: os.Getenv("MAPDRIVE_TEST_FUSE_DEBUG") != ""})
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("Unmount: %v", err)
		}
	})
	sync := func() {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for _, mb := range members {
			if err := mb.FS.Sync(sctx); err != nil {
				t.Fatalf("Sync %s: %v", mb.Name, err)
			}
		}
	}
	ls := func(rel string) []string { t.Helper(); return lsNames(t, e.p(rel)) }
	server := func(lib, p string) (string, bool) {
		t.Helper()
		b, err := other.Download(ctx, ids[lib], p)
		return string(b), err == nil
	}

	if got, want := ls("."), []string{"Finance", "Marketing"}; !slices.Equal(got, want) {
		t.Fatalf("combined drive's root = %v, want the two reachable libraries %v", got, want)
	}
	if got := e.sh("cat Finance/Reports/Q1.txt Marketing/General/Campaign.txt"); got != "Q1 revenue: 1,234,567\nSpring campaign ideas.\n" {
		t.Errorf("cat = %q", got)
	}

	// Writes land in their own library.
	e.sh("printf 'finance note' > Finance/note.txt && mkdir Marketing/Plans && printf 'plan' > Marketing/Plans/plan.txt")
	sync()
	if got, ok := server("Finance", "/note.txt"); got != "finance note" || !ok {
		t.Errorf("Finance /note.txt on the server = %q, %v", got, ok)
	}
	if got, ok := server("Marketing", "/Plans/plan.txt"); got != "plan" || !ok {
		t.Errorf("Marketing /Plans/plan.txt on the server = %q, %v", got, ok)
	}

	// A rename inside one library is a move on the server.
	e.sh("mv Finance/note.txt Finance/Reports/note-renamed.txt")
	sync()
	if _, ok := server("Finance", "/note.txt"); ok {
		t.Error("Finance /note.txt still on the server after the rename")
	}
	if got, ok := server("Finance", "/Reports/note-renamed.txt"); got != "finance note" || !ok {
		t.Errorf("Finance /Reports/note-renamed.txt on the server = %q, %v", got, ok)
	}

	// Across libraries the rename itself is refused with EXDEV ...
	if err := syscall.Rename(e.p("Finance/Reports/note-renamed.txt"), e.p("Marketing/note.txt")); !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename across libraries = %v, want EXDEV", err)
	}
	// ... and mv copies and deletes, a file as a folder.
	e.sh("mkdir Finance/Box && printf 'in the box' > Finance/Box/item.txt")
	e.sh("/bin/mv Finance/Reports/note-renamed.txt Marketing/moved.txt && /bin/mv Finance/Box Marketing/")
	sync()
	if _, ok := server("Finance", "/Reports/note-renamed.txt"); ok {
		t.Error("the moved file is still in Finance on the server")
	}
	if _, ok := server("Finance", "/Box/item.txt"); ok {
		t.Error("the moved folder is still in Finance on the server")
	}
	if got, ok := server("Marketing", "/moved.txt"); got != "finance note" || !ok {
		t.Errorf("Marketing /moved.txt on the server = %q, %v", got, ok)
	}
	if got, ok := server("Marketing", "/Box/item.txt"); got != "in the box" || !ok {
		t.Errorf("Marketing /Box/item.txt on the server = %q, %v", got, ok)
	}

	// The root's entries are the libraries: no new one, none removed
	// or renamed.
	for what, err := range map[string]error{
		"mkdir at the root":     os.Mkdir(e.p("Sales"), 0o755),
		"create at the root":    os.WriteFile(e.p("file.txt"), []byte("x"), 0o644),
		"rmdir of a library":    syscall.Rmdir(e.p("Marketing")),
		"rename of a library":   os.Rename(e.p("Marketing"), e.p("Marketing 2")),
		"move a file to /":      os.Rename(e.p("Marketing/moved.txt"), e.p("moved.txt")),
		"rename onto a library": syscall.Rename(e.p("Marketing/Plans"), e.p("Finance")),
	} {
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("%s = %v, want EACCES", what, err)
		}
	}
	if got, want := ls("."), []string{"Finance", "Marketing"}; !slices.Equal(got, want) {
		t.Errorf("root after the refused changes = %v, want %v", got, want)
	}

	// A change made elsewhere reaches its library at that library's poll.
	if _, err := other.Upload(ctx, ids["Marketing"], "/General/elsewhere.txt", []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the remote upload in Marketing", func() bool {
		return slices.Contains(ls("Marketing/General"), "elsewhere.txt")
	})
}
