package m365sim

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// marketingDocs is the Marketing site's library, where alice and bob are
// both members (directory.DemoSeed).
var marketingDocs = directory.DriveID("contoso", "site", "Marketing", "Documents")

// wantStatus fails unless err is a Graph error with status and code.
func wantStatus(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Errorf("%s: %v; want %d %s", what, err, status, code)
	}
}

// Contract (Graph v1.0 "driveItem: checkout", "driveItem: checkin",
// "publicationFacet resource type"; docs/checkout.md for the undocumented
// errors): checkout and checkin answer 204; a checked-out file shows
// publication {level: checkout, checkedOutBy: the holder}; while one user
// holds it, another's checkout, checkin, content upload, upload session,
// rename and delete get 423 accessDenied, reads still work; check-in
// publishes it again and others may write.
func TestConformanceCheckoutCheckin(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	alice, bob := s.Admin().As("contoso", "alice"), s.Admin().As("contoso", "bob")
	it, err := alice.Upload(ctx, marketingDocs, "plan.txt", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if it.Publication != nil {
		t.Errorf("a new file in a library without required check-out: publication %+v, want none", it.Publication)
	}
	item := "drives/" + marketingDocs + "/items/" + it.ID
	if err := alice.JSON(ctx, http.MethodPost, item+"/checkout", nil, nil); err != nil {
		t.Fatalf("checkout: %v", err)
	}
	if err := alice.JSON(ctx, http.MethodPost, item+"/checkout", nil, nil); err != nil {
		t.Errorf("checkout again by the holder: %v, want 204", err)
	}
	got, err := bob.Get(ctx, marketingDocs, "plan.txt")
	if err != nil {
		t.Fatalf("bob reads a file alice holds: %v", err)
	}
	if got.Publication == nil || got.Publication.Level != "checkout" || got.Publication.CheckedOutBy.User.DisplayName != "Alice Anders" {
		t.Errorf("publication as bob sees it = %+v, want level checkout by Alice Anders", got.Publication)
	}
	if got.ETag == it.ETag {
		t.Errorf("eTag %s unchanged by checkout", got.ETag)
	}
	if data, err := bob.Download(ctx, marketingDocs, "plan.txt"); err != nil || string(data) != "v1" {
		t.Errorf("bob downloads: %q, %v", data, err)
	}
	_, err = bob.Upload(ctx, marketingDocs, "plan.txt", []byte("bob's"))
	wantStatus(t, "bob uploads", err, http.StatusLocked, "accessDenied")
	err = bob.JSON(ctx, http.MethodPost, item+"/createUploadSession", map[string]any{"item": map[string]any{}}, nil)
	wantStatus(t, "bob creates an upload session", err, http.StatusLocked, "accessDenied")
	err = bob.JSON(ctx, http.MethodPatch, item, map[string]any{"name": "bob.txt"}, nil)
	wantStatus(t, "bob renames", err, http.StatusLocked, "accessDenied")
	err = bob.JSON(ctx, http.MethodDelete, item, nil, nil)
	wantStatus(t, "bob deletes", err, http.StatusLocked, "accessDenied")
	err = bob.JSON(ctx, http.MethodPost, item+"/checkout", nil, nil)
	wantStatus(t, "bob checks out", err, http.StatusLocked, "accessDenied")
	err = bob.JSON(ctx, http.MethodPost, item+"/checkin", map[string]any{"comment": "x"}, nil)
	wantStatus(t, "bob checks in", err, http.StatusLocked, "accessDenied")

	if _, err := alice.Upload(ctx, marketingDocs, "plan.txt", []byte("v2")); err != nil {
		t.Errorf("the holder uploads: %v", err)
	}
	err = alice.JSON(ctx, http.MethodPost, item+"/checkin", map[string]any{"checkInAs": "draft"}, nil)
	wantStatus(t, "checkInAs draft", err, http.StatusBadRequest, "invalidRequest")
	if err := alice.JSON(ctx, http.MethodPost, item+"/checkin", map[string]any{"comment": "done", "checkInAs": "published"}, nil); err != nil {
		t.Fatalf("checkin: %v", err)
	}
	if got, err := bob.Get(ctx, marketingDocs, "plan.txt"); err != nil || got.Publication != nil {
		t.Errorf("after checkin: %+v, %v; want no publication facet", got, err)
	}
	err = alice.JSON(ctx, http.MethodPost, item+"/checkin", map[string]any{"comment": "again"}, nil)
	wantStatus(t, "checkin of a published file", err, http.StatusBadRequest, "invalidRequest")
	if _, err := bob.Upload(ctx, marketingDocs, "plan.txt", []byte("bob's")); err != nil {
		t.Errorf("bob uploads after checkin: %v", err)
	}
	folder, err := alice.Mkdir(ctx, marketingDocs, "", "dir")
	if err != nil {
		t.Fatal(err)
	}
	err = alice.JSON(ctx, http.MethodPost, "drives/"+marketingDocs+"/items/"+folder.ID+"/checkout", nil, nil)
	wantStatus(t, "checkout of a folder", err, http.StatusBadRequest, "invalidRequest")
}

// Contract (docs/checkout.md; SharePoint's "Require Check Out"): in a
// library that requires check-out a new file stays checked out to its
// author, and a save of a file nobody has checked out is refused with 423
// until the writer checks it out.
func TestConformanceRequireCheckout(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites[1].Libraries[0].RequireCheckout = true // Marketing
	s := StartForTest(t, WithSeed(seed))
	ctx := ctxT(t)
	alice, bob := s.Admin().As("contoso", "alice"), s.Admin().As("contoso", "bob")
	it, err := alice.Upload(ctx, marketingDocs, "new.txt", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if it.Publication == nil || it.Publication.Level != "checkout" || it.Publication.CheckedOutBy.User.DisplayName != "Alice Anders" {
		t.Fatalf("a new file: publication %+v, want checked out to its author", it.Publication)
	}
	item := "drives/" + marketingDocs + "/items/" + it.ID
	if err := alice.JSON(ctx, http.MethodPost, item+"/checkin", map[string]any{"comment": ""}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Upload(ctx, marketingDocs, "new.txt", []byte("v2"))
	wantStatus(t, "a save without check-out", err, http.StatusLocked, "accessDenied")
	resp, err := alice.Do(ctx, http.MethodPut, item+"/content", bytes.NewReader([]byte("v2")), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusLocked {
			t.Errorf("a save by id without check-out = %d, want 423", resp.StatusCode)
		}
	}
	if err := bob.JSON(ctx, http.MethodPost, item+"/checkout", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Upload(ctx, marketingDocs, "new.txt", []byte("v2")); err != nil {
		t.Errorf("a save after check-out: %v", err)
	}
	if err := bob.JSON(ctx, http.MethodPatch, item, map[string]any{"name": "renamed.txt"}, nil); err != nil {
		t.Errorf("the holder renames: %v", err)
	}
}
