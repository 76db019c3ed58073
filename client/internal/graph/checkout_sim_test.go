package graph_test

import (
	"errors"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// CheckOut and CheckIn against the simulator (Graph v1.0 checkout,
// checkin, publicationFacet; docs/checkout.md): the holder shows in Get,
// List and Delta; another user's check-out and upload are vfs.ErrLocked,
// which is an ErrAccessDenied too.
func TestCheckOutCheckIn(t *testing.T) {
	sim := m365sim.StartForTest(t)
	ctx := ctxT(t)
	driveID := directory.DriveID("contoso", "site", "Marketing", "Documents")
	alice := graph.NewDrive(newClient(t, sim, "alice@contoso.com", graph.PacerOptions{}), driveID)
	bob := graph.NewDrive(newClient(t, sim, "bob@contoso.com", graph.PacerOptions{}), driveID)
	root, err := alice.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := alice.PutSmall(ctx, root.ID, "co.txt", []byte("v1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if it.CheckedOutBy != (vfs.Holder{}) {
		t.Errorf("a new file: holder %+v, want none", it.CheckedOutBy)
	}
	if err := alice.CheckOut(ctx, it.ID); err != nil {
		t.Fatalf("CheckOut: %v", err)
	}
	got, err := bob.Get(ctx, it.ID)
	if err != nil || got.CheckedOutBy.Name != "Alice Anders" || got.CheckedOutBy.ID == "" {
		t.Errorf("Get as bob: holder %+v, %v; want Alice Anders with her id", got.CheckedOutBy, err)
	}
	if l := findChild(t, mustList(t, bob, root.ID), "co.txt"); l.CheckedOutBy.Name != "Alice Anders" {
		t.Errorf("List: holder %+v", l.CheckedOutBy)
	}
	changes, _, err := bob.Delta(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := findChild(t, changes, "co.txt"); d.CheckedOutBy.Name != "Alice Anders" {
		t.Errorf("Delta: holder %+v", d.CheckedOutBy)
	}
	err = bob.CheckOut(ctx, it.ID)
	if !errors.Is(err, vfs.ErrLocked) || !errors.Is(err, vfs.ErrAccessDenied) {
		t.Errorf("bob's CheckOut: %v; want ErrLocked (an ErrAccessDenied)", err)
	}
	if _, err := bob.PutSmall(ctx, root.ID, "co.txt", []byte("bob"), got.ETag); !errors.Is(err, vfs.ErrLocked) {
		t.Errorf("bob's upload: %v; want ErrLocked", err)
	}
	if err := alice.CheckIn(ctx, it.ID, ""); err != nil {
		t.Fatalf("CheckIn: %v", err)
	}
	if got, err := bob.Get(ctx, it.ID); err != nil || got.CheckedOutBy != (vfs.Holder{}) {
		t.Errorf("after CheckIn: holder %+v, %v", got.CheckedOutBy, err)
	}
}
