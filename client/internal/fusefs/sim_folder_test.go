//go:build linux

package fusefs

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// aliceGraph starts m365sim and signs alice in: the Graph client the
// mounts of the sim's real libraries use.
func aliceGraph(t *testing.T) (*m365sim.Sim, *graph.Client) {
	t.Helper()
	sim := m365sim.StartForTest(t)
	ac := authtest.SignIn(t, sim, "contoso", "alice@contoso.com")
	gc, err := graph.New(graph.Config{Base: sim.GraphURL(), Tokens: ac, Scopes: ac.GraphScopes(), CAFile: sim.CAFile(), Pacer: graph.PacerOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	return sim, gc
}

// lsNames lists dir's names, sorted.
func lsNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ls %s: %v", dir, err)
	}
	var out []string
	for _, de := range ents {
		out = append(out, de.Name())
	}
	return out
}

// TestSimMountFolderTarget mounts a mapping targeted at a folder, Finance's
// Documents/Reports (#17 item 2), through the real FUSE mount over the
// Graph client and m365sim: the mount shows the folder's children only,
// writes land inside the folder on the server, and the drive-wide delta
// is kept to the folder by ancestry: moves out disappear and moves and
// additions in appear at the next poll. A rename of the folder itself on
// the server is reported, and the mount keeps what it has.
func TestSimMountFolderTarget(t *testing.T) {
	requireFUSE(t)
	ctx := context.Background()
	sim, gc := aliceGraph(t)
	d, err := gc.DriveByURL(ctx, "https://contoso.sharepoint.com/sites/Finance", "Documents")
	if err != nil {
		t.Fatalf("DriveByURL(Finance): %v", err)
	}
	other := sim.Admin().As("contoso", "alice@contoso.com") // the same user elsewhere
	must := func(_ *m365sim.Item, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The seed's Finance library has Reports/Q1.txt.
	must(other.Mkdir(ctx, d.ID, "/", "Archive"))
	must(other.Mkdir(ctx, d.ID, "/Reports", "Q1"))
	must(other.Upload(ctx, d.ID, "/Reports/summary.txt", []byte("summary v1")))
	must(other.Upload(ctx, d.ID, "/Reports/Q1/ledger.txt", []byte("ledger")))
	must(other.Upload(ctx, d.ID, "/outside.txt", []byte("was outside")))
	must(other.Upload(ctx, d.ID, "/Archive/old.txt", []byte("old")))

	root, err := gc.ItemByPath(ctx, d.ID, "/Reports")
	if err != nil || !root.IsDir {
		t.Fatalf("ItemByPath(/Reports) = %+v, %v", root, err)
	}
	e := mountRemote(t, graph.NewDrive(gc, d.ID), nil, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.DriveID, o.RootID, o.PollInterval = d.ID, root.ID, 2*time.Second
	})
	ls := func(rel string) []string { t.Helper(); return lsNames(t, e.p(rel)) }
	if got, want := ls("."), []string{"Q1", "Q1.txt", "summary.txt"}; !slices.Equal(got, want) {
		t.Fatalf("mount root = %v, want the folder's children %v", got, want)
	}
	if got := e.sh("cat summary.txt Q1/ledger.txt"); got != "summary v1ledger" {
		t.Errorf("cat = %q", got)
	}
	// A write lands inside the folder on the server.
	e.sh("printf 'from the mount' > new.txt && mkdir Q2 && printf 'q2' > Q2/plan.txt")
	e.sync(time.Minute)
	for p, want := range map[string]string{"/Reports/new.txt": "from the mount", "/Reports/Q2/plan.txt": "q2"} {
		if got, err := other.Download(ctx, d.ID, p); err != nil || string(got) != want {
			t.Errorf("server %s = %q, %v, want %q", p, got, err, want)
		}
	}
	if _, err := other.Get(ctx, d.ID, "/new.txt"); err == nil {
		t.Error("new.txt landed at the library's root, not in the folder")
	}

	// Everything below happens elsewhere and reaches the mount by the
	// drive's delta, at the next poll.
	must(other.Move(ctx, d.ID, "/Reports/summary.txt", "/Archive", ""))
	must(other.Move(ctx, d.ID, "/Reports/Q1", "/Archive", ""))
	must(other.Move(ctx, d.ID, "/outside.txt", "/Reports", ""))
	must(other.Upload(ctx, d.ID, "/Reports/added.txt", []byte("added elsewhere")))
	must(other.Upload(ctx, d.ID, "/Archive/later.txt", []byte("not in the folder")))
	want := []string{"Q1.txt", "Q2", "added.txt", "new.txt", "outside.txt"}
	eventually(t, time.Minute, "the remote moves and addition in the mount", func() bool {
		got := ls(".")
		return slices.Equal(got, want)
	})
	if got := e.sh("cat outside.txt added.txt"); got != "was outside"+"added elsewhere" {
		t.Errorf("moved-in and added files read %q", got)
	}
	if _, err := os.Stat(e.p("Q1/ledger.txt")); !os.IsNotExist(err) {
		t.Errorf("stat of a file in a folder moved out = %v, want not found", err)
	}
	if p := e.fs.Status().RootProblem; p != "" {
		t.Errorf("RootProblem = %q before the folder changed", p)
	}

	// The folder itself is renamed on the server: reported, and nothing
	// the mount holds goes.
	must(other.Move(ctx, d.ID, "/Reports", "", "Reports 2025"))
	eventually(t, time.Minute, "the root folder's rename reported", func() bool {
		return strings.Contains(e.fs.Status().RootProblem, "renamed or moved")
	})
	if got := ls("."); !slices.Equal(got, want) {
		t.Errorf("mount root after the folder's rename = %v, want %v", got, want)
	}

	// A change waits to upload when the folder is deleted on the server:
	// reported, and the change stays, in the mount and in the journal.
	e.fs.SetUploadsPaused(true)
	e.sh("printf 'kept locally' > pending.txt")
	if err := other.Delete(ctx, d.ID, "/Reports 2025"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the root folder's delete reported", func() bool {
		return strings.Contains(e.fs.Status().RootProblem, "deleted")
	})
	e.fs.SetUploadsPaused(false)
	eventually(t, time.Minute, "the upload tried against the deleted folder", func() bool {
		for _, ie := range e.fs.Status().Errors {
			if strings.Contains(ie.Path, "pending.txt") {
				return true
			}
		}
		return false
	})
	if got := e.sh("cat pending.txt"); got != "kept locally" {
		t.Errorf("pending.txt after the folder's delete = %q", got)
	}
	if n := e.fs.Status().QueueLength; n == 0 {
		t.Errorf("upload journal after the folder's delete is empty, want pending.txt kept in it")
	}
}
