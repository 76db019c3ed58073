//go:build linux

package agent

// Sign-out against m365sim with the real agent (issue #15, finding 6):
// it leaves nothing of the account behind but the changes it could not
// upload, which are kept sealed for that account only.

import (
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// signOut signs r out and returns what it tells the user.
func signOut(t *testing.T, ctx context.Context, r *realAgent) string {
	t.Helper()
	ack, err := r.c.SignOut(ctx)
	if err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	return ack.Message
}

// treeHolds returns the files under roots whose raw bytes contain needle.
func treeHolds(t *testing.T, needle []byte, roots ...string) []string {
	t.Helper()
	var hits []string
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
				return nil
			}
			if len(needle) > 0 && bytes.Contains(raw, needle) {
				hits = append(hits, p)
			}
			return nil
		})
	}
	return hits
}

// scanTree fails t for every file under roots whose raw bytes contain one
// of needles (what → bytes).
func scanTree(t *testing.T, needles map[string][]byte, roots ...string) {
	t.Helper()
	for what, n := range needles {
		for _, p := range treeHolds(t, n, roots...) {
			t.Errorf("%s holds %s", p, what)
		}
	}
}

// uploadsBy counts the upload requests the simulator saw from user
// ("tenant/name").
func uploadsBy(t *testing.T, ctx context.Context, sim *m365sim.Sim, user string) int64 {
	t.Helper()
	c, err := sim.Admin().Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range c.Requests {
		if e.Route == m365sim.RouteUpload && e.User == user {
			n += e.Count
		}
	}
	return n
}

// keyOf reads account acct's cache key from the agent's keyring.
func keyOf(r *realAgent, acct apitype.Account) ([]byte, error) {
	return keyring.New(keyring.WithBackend(r.secrets)).Get(cacheKeyName(accountID(acct)))
}

// TestSignOutWipesTheAccount: after a sign-out with nothing pending, no
// file under the cache and state folders holds a file's name, hash or
// content, and the cache key is gone from the keyring.
func TestSignOutWipesTheAccount(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	base := t.TempDir()
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	acct := loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "OneDrive discovered", func(st apitype.Status) bool { return driveByName(st, "OneDrive") != nil })
	d, err := r.c.Mount(ctx, "OneDrive", filepath.Join(base, "mnt", "OneDrive"))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	const name, content = "Quarterly-Zebra-Forecast.txt", "the zebra forecast: twelve stripes up\n"
	welcome, err := os.ReadFile(filepath.Join(d.Mountpoint, "Documents", "Welcome.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Mountpoint, "Documents", name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	server := sim.Admin().As("contoso", "alice@contoso.com")
	var it *m365sim.Item
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if it, err = server.Get(ctx, d.DriveID, "Documents/"+name); err == nil {
			break
		}
	}
	if it == nil || it.File == nil || it.File.Hashes.QuickXorHash == "" {
		t.Fatalf("%s on the server = %+v, %v", name, it, err)
	}
	waitStatus(t, r.c, "queue empty", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return d != nil && d.PendingUploads == 0
	})
	cacheDir, stateDir := r.cfg.CacheDir, r.cfg.StateDir
	hash, _ := base64.StdEncoding.DecodeString(it.File.Hashes.QuickXorHash)
	needles := map[string][]byte{
		"the file name": []byte(name), "the file's hash": []byte(it.File.Hashes.QuickXorHash),
		"the file's hash (binary)": hash, "Welcome.txt": []byte("Welcome.txt"),
	}
	if _, err := keyOf(r, acct); err != nil {
		t.Fatalf("no cache key before sign-out: %v", err)
	}
	// The scan can fail: before sign-out the state holds the names.
	for _, what := range []string{"the file name", "the file's hash", "Welcome.txt"} {
		if len(treeHolds(t, needles[what], cacheDir, stateDir)) == 0 {
			t.Fatalf("before sign-out no file holds %s: the scan proves nothing", what)
		}
	}

	if _, err := r.c.Unmount(ctx, "OneDrive"); err != nil {
		t.Fatal(err)
	}
	msg := signOut(t, ctx, r)
	if strings.Contains(msg, "kept") || strings.Contains(msg, "could not be uploaded") {
		t.Errorf("sign-out message %q speaks of kept changes; nothing was pending", msg)
	}
	scanTree(t, needles, cacheDir, stateDir)
	// The content is encrypted in the cache even before sign-out, so its
	// absence proves only the wipe together with the name scan above.
	scanTree(t, map[string][]byte{"the file's content": []byte(content), "Welcome's content": welcome}, cacheDir, stateDir)
	if _, err := os.Stat(r.agent.accountDir(accountID(acct))); !os.IsNotExist(err) {
		t.Errorf("account folder after sign-out: %v, want it gone", err)
	}
	if k, err := keyOf(r, acct); err == nil {
		t.Errorf("cache key still in the keyring after sign-out (%d bytes)", len(k))
	}
	if n := r.secrets.Len(); n != 0 {
		t.Errorf("keyring holds %d entries after sign-out, want none", n)
	}
}

// TestSignOutKeepsPendingUploadsForTheSameAccount: a change not uploaded
// at sign-out is kept; bob, signing in next on this computer to a drive
// he shares with alice, neither sees it nor uploads it; alice's next
// sign-in uploads it.
func TestSignOutKeepsPendingUploadsForTheSameAccount(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	base := t.TempDir()
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alice := loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "Marketing discovered", func(st apitype.Status) bool { return driveByName(st, "Marketing") != nil })
	d, err := r.c.Mount(ctx, "Marketing", filepath.Join(base, "mnt", "Marketing"))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	// Paused uploads: sign-out does not wait, the change stays pending.
	if err := r.c.PauseUploads(ctx); err != nil {
		t.Fatal(err)
	}
	const name, content = "alice-draft.txt", "alice's draft, not for bob's upload\n"
	if err := os.WriteFile(filepath.Join(d.Mountpoint, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.c, name+" queued", func(st apitype.Status) bool {
		d := driveByName(st, "Marketing")
		return d != nil && d.PendingUploads > 0
	})
	// A file only read is cached clean: it goes at sign-out, as everything
	// of the account does but the pending change.
	read := "read-only-once.txt"
	if _, err := sim.Admin().As("contoso", "bob@contoso.com").Upload(ctx, d.DriveID, read, []byte("bob's notes")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.ReadFile(filepath.Join(d.Mountpoint, read)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("read %s through the mount: %v", read, err)
		}
	}
	contentFiles := func() []string {
		var files []string
		dirs, _ := filepath.Glob(filepath.Join(r.cfg.CacheDir, "accounts", "*", "drives", "*", "content"))
		for _, dir := range dirs {
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && e.Type().IsRegular() {
					files = append(files, p)
				}
				return nil
			})
		}
		return files
	}
	if len(contentFiles()) < 2 {
		t.Fatalf("before sign-out: read %q, cached content files %v; want a clean file and the pending one", read, contentFiles())
	}
	msg := signOut(t, ctx, r)
	if got := contentFiles(); len(got) != 1 {
		t.Errorf("cached content files after sign-out = %v, want only the pending change's", got)
	}
	if !strings.Contains(msg, "1 change(s)") || !strings.Contains(msg, "sign in again with this account") {
		t.Errorf("sign-out message = %q, want it to say one change is kept for this account", msg)
	}
	if _, err := keyOf(r, alice); err != nil {
		t.Errorf("alice's cache key gone with a change pending: %v", err)
	}
	// The kept journal's session URLs, if any, are sealed; its content is
	// encrypted.
	if hits := treeHolds(t, []byte(content), r.cfg.CacheDir, r.cfg.StateDir); len(hits) > 0 {
		t.Errorf("the pending content is in clear in %v", hits)
	}

	// bob signs in on the same computer, with uploads running, and sees
	// the shared drive.
	if err := r.c.ResumeUploads(ctx); err != nil {
		t.Fatal(err)
	}
	bob := loginAs(t, ctx, r, "bob@contoso.com")
	if bob.UserID == alice.UserID {
		t.Fatalf("bob and alice share an object id %q", bob.UserID)
	}
	st := waitStatus(t, r.c, "bob's Marketing", func(st apitype.Status) bool { return driveByName(st, "Marketing") != nil })
	if got := driveByName(st, "Marketing").DriveID; got != d.DriveID {
		t.Fatalf("bob's Marketing drive = %s, alice's %s: the test needs a shared drive", got, d.DriveID)
	}
	// Two full refreshes, each of which drains unmounted drives.
	for range 2 {
		if _, err := r.agent.RefreshNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bd, err := r.c.Mount(ctx, "Marketing", filepath.Join(base, "mnt", "Marketing-bob"))
	if err != nil {
		t.Fatalf("Mount as bob: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bd.Mountpoint, name)); !os.IsNotExist(err) {
		t.Errorf("bob's mount shows alice's pending %s: %v", name, err)
	}
	if bd.PendingUploads != 0 {
		t.Errorf("bob's Marketing has %d pending uploads, want none", bd.PendingUploads)
	}
	time.Sleep(3 * time.Second) // a write-back delay and more
	if n := uploadsBy(t, ctx, sim, "contoso/bob"); n != 0 {
		t.Errorf("the simulator counted %d upload requests from bob, want none", n)
	}
	server := sim.Admin().As("contoso", "alice@contoso.com")
	if _, err := server.Get(ctx, d.DriveID, name); err == nil {
		t.Fatalf("%s reached the server while bob was signed in", name)
	}
	if _, err := r.c.Unmount(ctx, "Marketing"); err != nil {
		t.Fatal(err)
	}
	signOut(t, ctx, r)

	// alice signs in again: her change is sent, without mounting.
	loginAs(t, ctx, r, "alice@contoso.com")
	var got []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got, err = server.Download(ctx, d.DriveID, name); err == nil && string(got) == content {
			break
		}
	}
	if string(got) != content {
		t.Fatalf("server copy of %s after alice signed in again = %q, %v; want %q", name, got, err, content)
	}
	it, err := server.Get(ctx, d.DriveID, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uploaded after alice's second sign-in: %s (%d bytes)", it.Name, it.Size)
	if n := uploadsBy(t, ctx, sim, "contoso/alice"); n == 0 {
		t.Errorf("the simulator counted no upload request from alice")
	}
	if n := uploadsBy(t, ctx, sim, "contoso/bob"); n != 0 {
		t.Errorf("the simulator counted %d upload requests from bob, want none", n)
	}
	waitStatus(t, r.c, "alice's queue empty", func(st apitype.Status) bool {
		d := driveByName(st, "Marketing")
		return d != nil && d.PendingUploads == 0
	})
}

// TestUploadSessionURLNotInMetaDB: an upload session created and then
// interrupted leaves its pre-authenticated URL in meta.db in no form;
// the next agent still finishes the upload.
func TestUploadSessionURLNotInMetaDB(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	base, mem := t.TempDir(), keyring.NewMemory()
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base, mem: mem})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "OneDrive discovered", func(st apitype.Status) bool { return driveByName(st, "OneDrive") != nil })
	// Every fragment fails: the session is created and journaled, and
	// the upload cannot finish.
	if _, err := sim.Admin().AddFault(ctx, m365sim.Fault{Kind: m365sim.FaultError, Status: 500,
		Routes: []m365sim.RouteClass{m365sim.RouteUpload}, Methods: []string{"PUT"}}); err != nil {
		t.Fatal(err)
	}
	d, err := r.c.Mount(ctx, "OneDrive", filepath.Join(base, "mnt", "OneDrive"))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	data := bytes.Repeat([]byte("session "), (5<<20)/8) // over the simple-upload limit
	if err := os.WriteFile(filepath.Join(d.Mountpoint, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	created := func() int64 {
		c, err := sim.Admin().Counters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n, failed int64
		for _, e := range c.Requests {
			if e.Route == m365sim.RouteUpload && e.Method == "POST" && e.Status == 200 {
				n += e.Count
			}
			if e.Route == m365sim.RouteUpload && e.Method == "PUT" && e.Status == 500 {
				failed += e.Count
			}
		}
		return min(n, failed)
	}
	for deadline := time.Now().Add(45 * time.Second); created() == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
	}
	if created() == 0 {
		t.Fatal("no upload session was created and interrupted")
	}
	r.stop() // the journal keeps the session

	prefix := sim.BaseURL() + "/_upload/"
	needles := map[string][]byte{"the session URL": []byte("/_upload/"), "the session URL (escaped)": []byte(`\/_upload\/`)}
	for s := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(prefix[s:]))
		needles["the session URL (base64)"] = []byte(enc[:len(enc)/4*4-4])
		uenc := base64.URLEncoding.EncodeToString([]byte(prefix[s:]))
		needles["the session URL (base64url)"] = []byte(uenc[:len(uenc)/4*4-4])
		var dbs []string
		filepath.WalkDir(r.cfg.CacheDir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.Name() == "meta.db" {
				dbs = append(dbs, p)
			}
			return nil
		})
		if len(dbs) == 0 {
			t.Fatal("no meta.db under the cache folder")
		}
		scanTree(t, needles, dbs...)
	}

	// The next agent resumes and finishes the upload.
	if err := sim.Admin().ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base, mem: mem})
	server := sim.Admin().As("contoso", "alice@contoso.com")
	var it *m365sim.Item
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if it, err = server.Get(ctx, d.DriveID, "big.bin"); err == nil && it.Size == int64(len(data)) {
			break
		}
	}
	if it == nil || it.Size != int64(len(data)) {
		t.Fatalf("big.bin on the server = %+v, %v; want %d bytes", it, err, len(data))
	}
}

// TestSignOutWaitsForUploads: with uploads running, sign-out sends a
// change still queued before it removes the tokens, and keeps nothing.
func TestSignOutWaitsForUploads(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	base := t.TempDir()
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acct := loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "OneDrive discovered", func(st apitype.Status) bool { return driveByName(st, "OneDrive") != nil })
	d, err := r.c.Mount(ctx, "OneDrive", filepath.Join(base, "mnt", "OneDrive"))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	// A slow link: the upload is still under way when sign-out starts.
	if _, err := sim.Admin().AddFault(ctx, m365sim.Fault{Kind: m365sim.FaultLatency, LatencyMS: 1500,
		Routes: []m365sim.RouteClass{m365sim.RouteUpload}}); err != nil {
		t.Fatal(err)
	}
	const name, content = "last-minute.txt", "saved just before signing out\n"
	if err := os.WriteFile(filepath.Join(d.Mountpoint, "Documents", name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.c, name+" queued", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return d != nil && d.PendingUploads > 0
	})
	msg := signOut(t, ctx, r)
	if strings.Contains(msg, "could not be uploaded") {
		t.Errorf("sign-out message = %q, want nothing kept", msg)
	}
	got, err := sim.Admin().As("contoso", "alice@contoso.com").Download(ctx, d.DriveID, "Documents/"+name)
	if err != nil || string(got) != content {
		t.Errorf("server copy of %s right after sign-out = %q, %v; want %q", name, got, err, content)
	}
	if _, err := os.Stat(r.agent.accountDir(accountID(acct))); !os.IsNotExist(err) {
		t.Errorf("account folder after sign-out: %v, want it gone", err)
	}
}
