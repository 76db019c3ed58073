package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newClient signs upn in to sim and returns a Graph client for them.
func newClient(t testing.TB, sim *m365sim.Sim, upn string, opts graph.PacerOptions) *graph.Client {
	t.Helper()
	tenant := upn[strings.Index(upn, "@")+1:]
	tenant = tenant[:strings.Index(tenant, ".")]
	ac := authtest.SignIn(t, sim, tenant, upn)
	gc, err := graph.New(graph.Config{Base: sim.GraphURL(), Tokens: ac, Scopes: ac.GraphScopes(), CAFile: sim.CAFile(), Pacer: opts})
	if err != nil {
		t.Fatal(err)
	}
	return gc
}

func TestDiscoveryForAlice(t *testing.T) {
	sim := m365sim.StartForTest(t)
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	ctx := ctxT(t)

	me, err := gc.Me(ctx)
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if me.DisplayName != "Alice Anders" || me.UserPrincipalName != "alice@contoso.com" {
		t.Errorf("Me = %+v, want Alice Anders", me)
	}
	my, err := gc.MyDrive(ctx)
	if err != nil {
		t.Fatalf("MyDrive: %v", err)
	}
	if my.Kind != graph.KindOneDrive || my.ID == "" {
		t.Errorf("MyDrive = %+v", my)
	}
	// SharePoint's 400-character path limit counts the library's own
	// server-relative path, decoded (vfs.Options.LibraryPath).
	if got := my.LibraryPath(); got != "/personal/alice_contoso_com/Documents" {
		t.Errorf("MyDrive LibraryPath = %q", got)
	}

	drives, err := gc.Drives(ctx)
	if err != nil {
		t.Errorf("Drives reported: %v", err)
	}
	byName := map[string]graph.Drive{}
	for _, d := range drives {
		t.Logf("drive %-28q kind=%-10s library=%q site=%q", d.Name, d.Kind, d.Library, d.SiteURL)
		byName[d.Name] = d
	}
	want := []struct {
		name string
		kind graph.DriveKind
	}{
		{"OneDrive", graph.KindOneDrive},
		{"Finance Team", graph.KindTeam},
		{"Marketing", graph.KindTeam},
		{"Finance - Policies", graph.KindSharePoint},
	}
	for _, w := range want {
		d, ok := byName[w.name]
		if !ok {
			t.Errorf("Drives has no %q", w.name)
			continue
		}
		if d.Kind != w.kind {
			t.Errorf("%q kind = %s, want %s", w.name, d.Kind, w.kind)
		}
	}
	seen := map[string]bool{}
	for _, d := range drives {
		if seen[d.ID] {
			t.Errorf("drive %s listed twice", d.ID)
		}
		seen[d.ID] = true
	}

	// The Finance library, by its site's URL.
	policies := byName["Finance - Policies"]
	if policies.SiteURL == "" {
		t.Fatalf("Finance - Policies has no site URL: %+v", policies)
	}
	for _, lib := range []string{"Documents", "Policies"} {
		d, err := gc.DriveByURL(ctx, policies.SiteURL, lib)
		if err != nil {
			t.Fatalf("DriveByURL(%s, %s): %v", policies.SiteURL, lib, err)
		}
		if d.Library != lib || d.Kind != graph.KindSharePoint {
			t.Errorf("DriveByURL(%s) = %+v", lib, d)
		}
		wantLib := "/sites/Finance/" + map[string]string{"Documents": "Shared Documents", "Policies": "Policies"}[lib]
		if got := d.LibraryPath(); got != wantLib {
			t.Errorf("DriveByURL(%s) LibraryPath = %q, want %q", lib, got, wantLib)
		}
		if lib == "Documents" && d.ID != byName["Finance Team"].ID {
			t.Errorf("Finance Documents = %s, want the Finance Team drive %s", d.ID, byName["Finance Team"].ID)
		}
	}
	mkt := byName["Marketing"]
	if td, err := gc.TeamDrive(ctx, mkt.GroupID); err != nil || mkt.GroupID == "" || td.ID != mkt.ID || td.Kind != graph.KindTeam {
		t.Errorf("TeamDrive(%q) = %+v, %v; want the Marketing drive %s", mkt.GroupID, td, err, mkt.ID)
	}
	byID, err := gc.DriveByID(ctx, policies.ID)
	if err != nil || byID.ID != policies.ID || byID.Library != "Policies" || byID.Kind != graph.KindSharePoint {
		t.Errorf("DriveByID(Policies) = %+v, %v", byID, err)
	}
	if mine, err := gc.DriveByID(ctx, my.ID); err != nil || mine.Kind != graph.KindOneDrive {
		t.Errorf("DriveByID(OneDrive) = %+v, %v", mine, err)
	}
	if _, err := gc.DriveByID(ctx, "b!nosuchdrive"); !errors.Is(err, vfs.ErrNotFound) && !errors.Is(err, vfs.ErrAccessDenied) {
		t.Errorf("DriveByID(missing): err = %v, want ErrNotFound or ErrAccessDenied", err)
	}
	if _, err := gc.DriveByURL(ctx, policies.SiteURL, "No such library"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("DriveByURL(no such library): err = %v, want ErrNotFound", err)
	}

	// Bob sees Marketing but not the Finance Team.
	bob := newClient(t, sim, "bob@contoso.com", graph.PacerOptions{})
	bd, err := bob.Drives(ctx)
	if err != nil {
		t.Errorf("bob's Drives reported: %v", err)
	}
	for _, d := range bd {
		if d.Name == "Finance Team" {
			t.Error("bob sees the Finance Team's drive")
		}
	}
}

func findChild(t testing.TB, items []vfs.Item, name string) vfs.Item {
	t.Helper()
	for _, it := range items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no %q among %d items", name, len(items))
	return vfs.Item{}
}

// reader returns a function that reads a ReadRange answer to the end.
func reader(t *testing.T) func(io.ReadCloser, error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		return readAll(t, rc, err)
	}
}

func readAll(t *testing.T, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRemoteRoundTrip(t *testing.T) {
	sim := m365sim.StartForTest(t)
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	ctx := ctxT(t)
	my, err := gc.MyDrive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := graph.NewDrive(gc, my.ID)
	read := reader(t)

	root, err := r.Root(ctx)
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	if total, remaining, err := r.Quota(ctx); err != nil || total <= 0 || remaining <= 0 || remaining > total {
		t.Errorf("Quota = %d total, %d remaining, %v", total, remaining, err)
	}
	if !root.IsDir || root.ParentID != "" || root.ID == "" {
		t.Errorf("Root = %+v", root)
	}
	top, err := r.List(ctx, root.ID)
	if err != nil {
		t.Fatalf("List root: %v", err)
	}
	docs := findChild(t, top, "Documents")
	if !docs.IsDir || docs.ParentID != root.ID {
		t.Errorf("Documents = %+v", docs)
	}
	files, err := r.List(ctx, docs.ID)
	if err != nil {
		t.Fatal(err)
	}
	welcome := findChild(t, files, "Welcome.txt")
	const welcomeText = "Welcome to your OneDrive, mapped by Mapdrive.\n"
	if welcome.Size != int64(len(welcomeText)) || welcome.ETag == "" || welcome.QuickXorHash == "" || welcome.ModTime.IsZero() {
		t.Errorf("Welcome.txt = %+v", welcome)
	}
	// Get goes through the SDK's model, List through plain JSON: they agree.
	got, err := r.Get(ctx, welcome.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(welcome, got); diff != "" {
		t.Errorf("Get (SDK) and List (plain JSON) differ (-list +get):\n%s", diff)
	}
	if gotDocs, err := r.Get(ctx, docs.ID); err != nil || cmp.Diff(docs, gotDocs) != "" {
		t.Errorf("Get(Documents) differs from its listing: %v %s", err, cmp.Diff(docs, gotDocs))
	}
	if _, err := r.Get(ctx, "no-such-item"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Get(missing): err = %v, want ErrNotFound", err)
	}

	// Full enumeration, then a token for later.
	all, token, err := r.Delta(ctx, "")
	if err != nil {
		t.Fatalf("Delta: %v", err)
	}
	if token == "" || len(all) < 5 {
		t.Errorf("Delta = %d items, token %q", len(all), token)
	}

	// Download a range, then the URL expires.
	u, err := r.DownloadURL(ctx, welcome.ID)
	if err != nil {
		t.Fatalf("DownloadURL: %v", err)
	}
	part := read(r.ReadRange(ctx, u, 11, 4))
	if string(part) != "your" {
		t.Errorf("ReadRange(11, 4) = %q, want %q", part, "your")
	}
	if err := sim.Admin().ExpireDownloadURLs(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadRange(ctx, u, 0, 4); !errors.Is(err, vfs.ErrURLExpired) {
		t.Errorf("ReadRange on an expired URL: err = %v, want ErrURLExpired", err)
	}
	u, err = r.DownloadURL(ctx, welcome.ID)
	if err != nil {
		t.Fatal(err)
	}
	if whole := read(r.ReadRange(ctx, u, 0, 1<<20)); string(whole) != welcomeText {
		t.Errorf("ReadRange of the whole file = %q", whole)
	}

	// Simple upload, replace, and a stale eTag.
	small, err := r.PutSmall(ctx, docs.ID, "new note.txt", []byte("first"), "")
	if err != nil {
		t.Fatalf("PutSmall: %v", err)
	}
	if small.Size != 5 || small.ParentID != docs.ID || small.Name != "new note.txt" {
		t.Errorf("PutSmall = %+v", small)
	}
	replaced, err := r.PutSmall(ctx, docs.ID, "new note.txt", []byte("second"), small.ETag)
	if err != nil {
		t.Fatalf("PutSmall with the current eTag: %v", err)
	}
	if replaced.ID != small.ID || replaced.ETag == small.ETag {
		t.Errorf("replace kept id %v / changed eTag %v", replaced.ID == small.ID, replaced.ETag != small.ETag)
	}
	if _, err := r.PutSmall(ctx, docs.ID, "new note.txt", []byte("third"), small.ETag); !errors.Is(err, vfs.ErrPreconditionFailed) {
		t.Errorf("PutSmall with a stale eTag: err = %v, want ErrPreconditionFailed", err)
	}

	// Upload session: 2.5 fragments of 320 KiB, with a status check between.
	const frag = 327680
	data := make([]byte, 2*frag+1000)
	_, _ = rand.Read(data)
	s, err := r.CreateUploadSession(ctx, docs.ID, "big.bin", int64(len(data)), "")
	if err != nil {
		t.Fatalf("CreateUploadSession: %v", err)
	}
	if s.URL == "" || s.NextOffset != 0 || s.Expiration.IsZero() {
		t.Errorf("session = %+v", s)
	}
	if it, err := r.UploadFragment(ctx, s, 0, int64(len(data)), data[:frag]); err != nil || it != nil {
		t.Fatalf("first fragment: %v, %v", it, err)
	}
	st, err := r.UploadStatus(ctx, s)
	if err != nil || st.NextOffset != frag {
		t.Fatalf("UploadStatus = %+v, %v; want next offset %d", st, err, frag)
	}
	if it, err := r.UploadFragment(ctx, s, frag, int64(len(data)), data[frag:2*frag]); err != nil || it != nil {
		t.Fatalf("second fragment: %v, %v", it, err)
	}
	big, err := r.UploadFragment(ctx, s, 2*frag, int64(len(data)), data[2*frag:])
	if err != nil || big == nil {
		t.Fatalf("last fragment: %v, %v", big, err)
	}
	if big.Size != int64(len(data)) || big.Name != "big.bin" {
		t.Errorf("uploaded item = %+v", big)
	}
	u, err = r.DownloadURL(ctx, big.ID)
	if err != nil {
		t.Fatal(err)
	}
	if back := read(r.ReadRange(ctx, u, frag-10, 20)); !bytes.Equal(back, data[frag-10:frag+10]) {
		t.Error("range across the fragment boundary differs from what was uploaded")
	}
	// A cancelled session is gone.
	s2, err := r.CreateUploadSession(ctx, docs.ID, "cancelled.bin", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CancelUpload(ctx, s2); err != nil {
		t.Fatalf("CancelUpload: %v", err)
	}
	if _, err := r.UploadStatus(ctx, s2); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("UploadStatus of a cancelled session: err = %v, want ErrNotFound", err)
	}
	// A session guarded by a stale eTag is refused.
	if _, err := r.CreateUploadSession(ctx, docs.ID, "new note.txt", 10, small.ETag); !errors.Is(err, vfs.ErrPreconditionFailed) {
		t.Errorf("CreateUploadSession with a stale eTag: err = %v, want ErrPreconditionFailed", err)
	}

	// Folders, move, delete.
	dir, err := r.Mkdir(ctx, root.ID, "Projects")
	if err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	if _, err := r.Mkdir(ctx, root.ID, "Projects"); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("Mkdir of a taken name: err = %v, want ErrExist", err)
	}
	moved, err := r.Move(ctx, replaced.ID, dir.ID, "renamed.txt", replaced.ETag)
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	if moved.ID != replaced.ID || moved.ParentID != dir.ID || moved.Name != "renamed.txt" {
		t.Errorf("Move = %+v", moved)
	}
	if _, err := r.Move(ctx, moved.ID, "", "again.txt", replaced.ETag); !errors.Is(err, vfs.ErrPreconditionFailed) {
		t.Errorf("Move with a stale eTag: err = %v, want ErrPreconditionFailed", err)
	}
	if err := r.Delete(ctx, moved.ID, small.ETag); !errors.Is(err, vfs.ErrPreconditionFailed) {
		t.Errorf("Delete with a stale eTag: err = %v, want ErrPreconditionFailed", err)
	}
	if err := r.Delete(ctx, moved.ID, moved.ETag); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := r.Get(ctx, moved.ID); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}

	// The changes since the token.
	changes, token2, err := r.Delta(ctx, token)
	if err != nil {
		t.Fatalf("Delta(token): %v", err)
	}
	state := map[string]vfs.Item{}
	for _, c := range changes {
		state[c.ID] = c // the last occurrence wins
	}
	if c, ok := state[moved.ID]; !ok || !c.Deleted {
		t.Errorf("delta lacks the deletion of the moved file: %+v (present %v)", c, ok)
	}
	if c, ok := state[big.ID]; !ok || c.Deleted || c.Size != int64(len(data)) {
		t.Errorf("delta lacks big.bin: %+v", c)
	}
	if c, ok := state[dir.ID]; !ok || !c.IsDir {
		t.Errorf("delta lacks Projects: %+v", c)
	}
	if token2 == "" || token2 == token {
		t.Errorf("new delta token %q", token2)
	}
	if err := sim.Admin().ExpireDelta(ctx, my.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Delta(ctx, token2); !errors.Is(err, vfs.ErrResyncRequired) || errors.Is(err, vfs.ErrResyncUploadDifferences) {
		t.Errorf("Delta with an expired token: err = %v, want ErrResyncRequired applying differences", err)
	}
	_, token3, err := r.Delta(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Admin().ExpireDeltaWith(ctx, my.ID, "resyncChangesUploadDifferences"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Delta(ctx, token3); !errors.Is(err, vfs.ErrResyncUploadDifferences) || !errors.Is(err, vfs.ErrResyncRequired) {
		t.Errorf("Delta with an expired token (upload differences): err = %v, want ErrResyncUploadDifferences", err)
	}

	// Quota full: 507 maps to ErrQuotaExceeded, for simple and session uploads.
	if _, err := sim.Admin().AddFault(ctx, m365sim.Fault{Kind: m365sim.FaultQuotaFull, User: "alice@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutSmall(ctx, docs.ID, "full.txt", []byte("x"), ""); !errors.Is(err, vfs.ErrQuotaExceeded) {
		t.Errorf("PutSmall on a full drive: err = %v, want ErrQuotaExceeded", err)
	}
	if _, err := r.CreateUploadSession(ctx, docs.ID, "full.bin", 1<<20, ""); !errors.Is(err, vfs.ErrQuotaExceeded) {
		t.Errorf("CreateUploadSession on a full drive: err = %v, want ErrQuotaExceeded", err)
	}
}

// TestPacingUnder429 throttles alice and sends many requests at once; the
// simulator records any request sent before Retry-After had passed.
func TestPacingUnder429(t *testing.T) {
	sim := m365sim.StartForTest(t)
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{MaxConcurrent: 4})
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
	if err := sim.Admin().ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []m365sim.Fault{
		{Kind: m365sim.FaultThrottle, User: "alice@contoso.com", Status: 429, RetryAfter: 1, Times: 2},
		{Kind: m365sim.FaultThrottle, User: "alice@contoso.com", Status: 503, RetryAfter: 1, Times: 1},
	} {
		if _, err := sim.Admin().AddFault(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	// One request meets the throttling first; requests already in flight
	// when a 429 is sent are early by the server's count, and no client
	// can avoid that. Then eleven more join while the user is paused.
	wg.Go(func() {
		if _, err := gc.Me(ctx); err != nil {
			t.Errorf("first request under throttling: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !gc.Pacer().PausedUntil().After(time.Now()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first request was never throttled")
		}
	}
	for i := range 11 {
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = r.List(ctx, root.ID)
			case 1:
				_, err = r.Root(ctx)
			default:
				_, err = gc.Me(ctx)
			}
			if err != nil {
				failed.Add(1)
				t.Errorf("request %d under throttling: %v", i, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	c, err := sim.Admin().Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var stats *m365sim.ThrottleStats
	for user, s := range c.Throttle {
		if strings.HasPrefix(user, "contoso/alice") {
			stats = s
		}
	}
	if stats == nil || stats.Throttled == 0 {
		t.Fatalf("the simulator throttled nobody: %+v", c.Throttle)
	}
	if stats.Throttled < 3 {
		t.Errorf("throttled %d times, want the 3 injected", stats.Throttled)
	}
	if stats.EarlyRetries != 0 {
		t.Errorf("%d requests were sent before Retry-After had passed", stats.EarlyRetries)
		for _, e := range stats.Events {
			t.Logf("%s %s %s throttled=%v early=%v", e.At.Format("15:04:05.000"), e.Method, e.Route, e.Throttled, e.Early)
		}
	}
	t.Logf("throttled %d times, 12 requests done in %v", stats.Throttled, elapsed)
	if elapsed < 3*time.Second {
		t.Errorf("12 requests through three 1 s throttles finished in %v", elapsed)
	}
}

// TestRenewOnExpiredToken moves the simulator's clock past the access
// token's expiry while MSAL still holds it as valid: Graph answers 401 and
// the pacer renews the token once, transparently.
func TestRenewOnExpiredToken(t *testing.T) {
	var offset atomic.Int64
	sim := m365sim.StartForTest(t, m365sim.WithNow(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	gc := newClient(t, sim, "alice@contoso.com", graph.PacerOptions{})
	ctx := ctxT(t)
	if _, err := gc.Me(ctx); err != nil {
		t.Fatal(err)
	}
	// Past even a CAE token's life: the client declares cp1.
	offset.Store(int64(30 * time.Hour))
	if err := sim.Admin().ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Me(ctx); err != nil {
		t.Fatalf("Me with an expired access token: %v", err)
	}
	c, err := sim.Admin().Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got401, got200 int64
	for _, e := range c.Requests {
		if e.Route == m365sim.RouteMetadata && e.Status == http.StatusUnauthorized {
			got401 += e.Count
		}
		if e.Route == m365sim.RouteMetadata && e.Status == http.StatusOK {
			got200 += e.Count
		}
	}
	if got401 != 1 || got200 != 1 {
		t.Errorf("metadata answers: %d×401, %d×200; want one of each (expired, then renewed)", got401, got200)
	}
}

// TestReadRangeResumesAfterDrop cuts download connections mid-body; the
// reader resumes from where each one broke.
func TestReadRangeResumesAfterDrop(t *testing.T) {
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
	pics, err := r.List(ctx, findChild(t, mustList(t, r, root.ID), "Pictures").ID)
	if err != nil {
		t.Fatal(err)
	}
	sample := findChild(t, pics, "sample.bin")
	u, err := r.DownloadURL(ctx, sample.ID)
	if err != nil {
		t.Fatal(err)
	}
	read := reader(t)
	clean := read(r.ReadRange(ctx, u, 1000, sample.Size))
	if int64(len(clean)) != sample.Size-1000 {
		t.Fatalf("clean read = %d bytes, want %d", len(clean), sample.Size-1000)
	}
	if _, err := sim.Admin().AddFault(ctx, m365sim.Fault{Kind: m365sim.FaultDrop, Routes: []m365sim.RouteClass{m365sim.RouteDownload},
		AfterBytes: 50000, Times: 2}); err != nil {
		t.Fatal(err)
	}
	got := read(r.ReadRange(ctx, u, 1000, sample.Size))
	if !bytes.Equal(got, clean) {
		t.Errorf("read through two dropped connections = %d bytes, differs from the clean %d", len(got), len(clean))
	}
	fs, err := sim.Admin().Faults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.Faults) != 1 || fs.Faults[0].Fired != 2 {
		t.Errorf("drop fault fired %+v, want twice", fs.Faults)
	}
}

func mustList(t testing.TB, r *graph.Remote, id string) []vfs.Item {
	t.Helper()
	items, err := r.List(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
