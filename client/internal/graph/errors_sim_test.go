package graph_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// m365sim nests inner errors as Graph does, in both spellings
// (graph-contract.md, Errors); the plain HTTP path and the SDK path both
// decode them down to the most specific code.
func TestNestedErrorsDecodedOnBothPaths(t *testing.T) {
	sim := m365sim.StartForTest(t)
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	ctx := ctxT(t)
	my, err := gc.MyDrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := graph.NewDrive(gc, my.ID)
	root, err := r.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.PutSmall(ctx, root.ID, "e.txt", []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutSmall(ctx, root.ID, "e.txt", []byte("two"), it.ETag); err != nil {
		t.Fatal(err)
	}
	check := func(path string, err error, want []string, sentinel error) {
		t.Helper()
		var ge *graph.Error
		if !errors.As(err, &ge) {
			t.Fatalf("%s: %v is not a *graph.Error", path, err)
		}
		if !slices.Equal(ge.Codes, want) || ge.InnerCode != want[len(want)-1] {
			t.Errorf("%s: codes %v (inner %q), want %v", path, ge.Codes, ge.InnerCode, want)
		}
		if sentinel != nil && !errors.Is(err, sentinel) {
			t.Errorf("%s: %v is not %v", path, err, sentinel)
		}
	}
	// Plain HTTP: a simple upload against a stale eTag.
	_, err = r.PutSmall(ctx, root.ID, "e.txt", []byte("three"), it.ETag)
	check("plain", err, []string{"resourceModified", "entityTagDoesNotMatch"}, vfs.ErrPreconditionFailed)
	// The SDK: a rename against a stale eTag.
	_, err = r.Move(ctx, it.ID, "", "f.txt", it.ETag)
	check("SDK", err, []string{"resourceModified", "entityTagDoesNotMatch"}, vfs.ErrPreconditionFailed)
	// An upload URL: a fragment that overlaps, three levels deep.
	const unit = 327680
	s, err := r.CreateUploadSession(ctx, root.ID, "big.bin", 2*unit, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UploadFragment(ctx, s, 0, 2*unit, make([]byte, unit)); err != nil {
		t.Fatal(err)
	}
	_, err = r.UploadFragment(ctx, s, 0, 2*unit, make([]byte, unit))
	check("fragment", err, []string{"invalidRange", "uploadSessionFailed", "fragmentOverlap"}, nil)
}
