//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestEndToEndRevokedSessionKeepsWritesUntilSignIn: an administrator
// revokes alice's sessions while her OneDrive is mounted. Continuous
// access evaluation makes Graph refuse her unexpired token with a claims
// challenge, and her refresh token is revoked, so the claims request
// cannot be satisfied silently. The mount survives and lists from its
// cache, a file written meanwhile stays queued, the status says to sign
// in again; once she does, the file is uploaded and the server holds it.
// The upload has failed often enough meanwhile to back off for over a
// minute; the new sign-in wakes the queue, so the file lands in well
// under half that.
func TestEndToEndRevokedSessionKeepsWritesUntilSignIn(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com"})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "OneDrive discovered", func(st apitype.Status) bool { return driveByName(st, "OneDrive") != nil })
	d, err := r.c.Mount(ctx, "OneDrive", filepath.Join(t.TempDir(), "onedrive"))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	docs := filepath.Join(d.Mountpoint, "Documents")
	if _, err := os.ReadDir(docs); err != nil {
		t.Fatalf("list Documents: %v", err)
	}

	time.Sleep(1100 * time.Millisecond) // tokens carry whole seconds
	if err := sim.Admin().Revoke(ctx, "contoso", "alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	const content = "written while the session was revoked\n"
	if err := os.WriteFile(filepath.Join(docs, "revoked.txt"), []byte(content), 0o644); err != nil {
		t.Fatalf("write during the revocation: %v", err)
	}
	// No refresh asked for: the lost sign-in kicks one.
	waitStatus(t, r.c, "sign-in expired with the write pending", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return st.SignIn == apitype.SignInExpired && d != nil && d.State == apitype.DriveMounted && d.PendingUploads > 0
	})
	st, err := r.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(st.Errors, func(p apitype.Problem) bool { return p.Code == apitype.CodeSignInExpired }) {
		t.Errorf("status problems %+v lack %s", st.Errors, apitype.CodeSignInExpired)
	}
	// The mount lists from its cache; the server has not got the file.
	ents, err := os.ReadDir(docs)
	if err != nil {
		t.Fatalf("list Documents during the revocation: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "Welcome.txt") || !slices.Contains(names, "revoked.txt") {
		t.Errorf("Documents during the revocation = %q, want Welcome.txt and revoked.txt", names)
	}
	server := sim.Admin().As("contoso", "alice@contoso.com")
	if _, err := server.Download(ctx, d.DriveID, "Documents/revoked.txt"); err == nil {
		t.Fatal("the server got the file while the session was revoked")
	}
	if cs, err := sim.Admin().Counters(ctx); err != nil || cs.Claims["contoso/alice"] == nil || cs.Claims["contoso/alice"].Challenges == 0 {
		t.Errorf("no claims challenge counted for alice: %v", err)
	}

	// Let the upload fail until its backoff (meta.MinBackoff doubled at
	// each failure) reaches over a minute: each failure is one
	// upload_failed problem naming the file.
	const failures = 7
	backoff := meta.MinBackoff << (failures - 1)
	for deadline := time.Now().Add(3 * time.Minute); uploadFailures(t, r, "revoked.txt") < failures; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the upload failed %d times in 3 minutes, want %d", uploadFailures(t, r, "revoked.txt"), failures)
		}
	}

	loginAs(t, ctx, r, "alice@contoso.com")
	signedIn := time.Now()
	var got []byte
	for deadline := signedIn.Add(backoff / 2); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got, err = server.Download(ctx, d.DriveID, "Documents/revoked.txt"); err == nil && string(got) == content {
			break
		}
	}
	if string(got) != content {
		t.Fatalf("server copy %v after signing in again = %q, %v; want %q before the upload's %v backoff ends",
			time.Since(signedIn).Round(time.Second), got, err, content, backoff)
	}
	t.Logf("uploaded %v after the new sign-in; the backoff was %v", time.Since(signedIn).Round(100*time.Millisecond), backoff)
	waitStatus(t, r.c, "signed in, nothing pending", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return st.SignIn == apitype.SignedIn && d != nil && d.PendingUploads == 0
	})
}

// uploadFailures counts the upload_failed problems in r's status that
// name file: one per failed attempt.
func uploadFailures(t *testing.T, r *realAgent, file string) int {
	t.Helper()
	st, err := r.c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range st.Errors {
		if p.Code == apitype.CodeUploadFailed && strings.Contains(p.Message, file) {
			n++
		}
	}
	return n
}
