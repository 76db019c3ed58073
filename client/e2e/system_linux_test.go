//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	agentpkg "github.com/mapdrive/mapdrive/client/internal/agent"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// poll is the agent's remote-change poll interval in this test.
const poll = 2 * time.Second

// TestSystem runs the whole product together: an admin assigns a library
// through the service API; alice's agent mounts it after she signs in;
// alice and bob exchange files through the mount and Graph; a large copy
// survives the service stopping, throttling and 10% failed requests, and
// a SIGKILL of the agent; alice's UPN never reaches the service's
// database, logs or metrics.
//
// It runs twice: on the simulator's demo seed ("demo": v2.0 tokens with a
// groups claim), and on a tenant registered as the docs tell an admin,
// with fresh ids ("realTenant": api://<guid> scopes, v1.0 tokens, no
// groups claim, so the service finds alice's groups through Graph on her
// behalf; a smaller chaos copy).
//
// MAPDRIVE_TEST_E2E_COPY_MB sizes the demo run's chaos copy (default 500).
func TestSystem(t *testing.T) {
	require(t, buildErr == nil, fmt.Sprint("building the binaries: ", buildErr))
	require(t, os.Geteuid() == 0, "root (FUSE mounts and the agent's mount cleanup)")
	_, err := os.Stat("/dev/fuse")
	require(t, err == nil, "/dev/fuse")
	for _, c := range []string{"fusermount", "dbus-daemon", "dbus-send", "gnome-keyring-daemon", "psql", "pg_dump"} {
		require(t, haveCmd(c), c+" (make deps installs it)")
	}
	pgDSN := os.Getenv("MAPDRIVE_TEST_PG_DSN")
	require(t, pgDSN != "", "MAPDRIVE_TEST_PG_DSN (scripts/test-env.sh starts PostgreSQL and exports it)")
	copyMB := 500
	if v := os.Getenv("MAPDRIVE_TEST_E2E_COPY_MB"); v != "" {
		if copyMB, err = strconv.Atoi(v); err != nil || copyMB < 4 {
			t.Fatalf("MAPDRIVE_TEST_E2E_COPY_MB=%q: want a number of MB, at least 4", v)
		}
	}
	for _, tc := range []struct {
		name string
		ids  func(t *testing.T, dir string) *identities
	}{
		{"demo", func(t *testing.T, _ string) *identities { return demoIdentities(t) }},
		{"realTenant", realTenantIdentities},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			id := tc.ids(t, dir)
			systemRun(t, dir, id, pgDSN, id.copyMB(copyMB))
		})
	}
}

// systemRun is one run of the system test, with the identities of id.
func systemRun(t *testing.T, dir string, id *identities, pgDSN string, copyMB int) {
	began := time.Now()
	ctx := context.Background()
	tenant := id.tenant
	marketing := tenant.Site("Marketing")

	// --- The three parts, as separate processes. ---
	sim := startSim(t, dir, id)
	info, err := sim.admin.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	driveID := libraryID(t, info, tenant.Name, "Marketing", "Documents")
	bob := sim.admin.As(tenant.Name, "bob")

	svc := newService(t, dir, sim, freshDatabase(t, pgDSN), id)
	svc.cli(t, "migrate")
	addTenant := []string{"tenant", "add", "--id", tenant.ID, "--name", tenant.DisplayName, "--seats", "25"}
	for _, d := range tenant.Domains {
		addTenant = append(addTenant, "--domain", d)
	}
	svc.cli(t, addTenant...)
	svc.start(t)
	// serve says at start which tokens it accepts (deploy-service.md).
	if logData, _ := os.ReadFile(svc.log); !strings.Contains(string(logData), "; audiences "+strings.Join(id.audiences, ", ")+"\n") {
		t.Errorf("the service's log does not say it accepts the audiences %v:\n%s", id.audiences, logData)
	}

	sess := startSession(t, dir)
	alice := newAgent(t, dir, sess, sim, svc, poll, id)
	alice.start(t)
	t.Logf("parts up after %v", time.Since(began).Round(time.Millisecond))

	// serviceToken signs user in as the agent does (the desktop app, the
	// run's authority, the service scope) and returns a token for the service.
	serviceToken := func(user string) string {
		t.Helper()
		return sim.token(t, ctx, id.authTenant, id.desktopClientID, id.upn(user), id.serviceScope)
	}

	// --- An admin assigns the Marketing library to the Marketing group. ---
	adminTok := serviceToken("admin")
	var created apitype.AdminMapping
	code := svc.call(t, http.MethodPost, "/v1/tenants/"+tenant.ID+"/mappings", adminTok, apitype.AdminMapping{
		Mapping: apitype.Mapping{DisplayName: "Projects", MountName: "Projects", DriveLetter: "P", OfflinePin: apitype.PinAllowed,
			Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: tenant.SiteURL(marketing), LibraryName: "Documents"}},
		Groups: []string{tenant.Group("Marketing").ID},
	}, &created)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("admin creates a mapping: status %d", code)
	}
	// A user of the tenant is not an admin.
	bobTok := serviceToken("bob")
	if code := svc.call(t, http.MethodPost, "/v1/tenants/"+tenant.ID+"/mappings", bobTok, created, nil); code != http.StatusForbidden {
		t.Errorf("bob creating a mapping: status %d, want 403", code)
	}
	// The tokens are the ones the registration asks Entra for, and the
	// mapping reaches the group's members only: in the real tenant's run
	// the token has no groups claim, so the service learnt alice's groups
	// from Graph, on her behalf.
	aliceTok := serviceToken("alice")
	checkToken(t, id, sim.url, aliceTok)
	checkAssigned(t, svc, aliceTok, created.ID, true, "alice, in the Marketing group,")
	checkAssigned(t, svc, serviceToken(id.outsider), created.ID, false, id.outsider+", outside the Marketing group,")

	// --- alice signs in (device code through the CLI, approved through
	// the simulator); her agent fetches the mapping and mounts it. ---
	signIn(t, ctx, alice, sim, id.upn("alice"))
	st := alice.waitStatus(t, "the Projects mapping mounted", 60*time.Second, func(st apitype.Status) bool {
		d := driveNamed(st, "Projects")
		return d != nil && d.State == apitype.DriveMounted
	})
	proj := driveNamed(st, "Projects")
	if proj.Source != apitype.SourceAssigned || proj.Mountpoint != filepath.Join(alice.mountRoot, "Projects") || st.Licence.State != apitype.LicenceValid {
		t.Fatalf("Projects = %+v, licence %+v; want assigned at mount_root/Projects with a valid licence", proj, st.Licence)
	}
	mnt := proj.Mountpoint
	// The CLI sees the same: `mapdrive drives --json`.
	var list apitype.DriveList
	if err := json.Unmarshal(alice.mapdrive(t, "drives", "--json"), &list); err != nil {
		t.Fatalf("mapdrive drives --json: %v", err)
	}
	if d := driveNamed(apitype.Status{Drives: list.Drives}, "Projects"); d == nil || d.State != apitype.DriveMounted || d.Mountpoint != mnt {
		t.Errorf("mapdrive drives --json: Projects = %+v, want mounted at %s", d, mnt)
	}
	if _, err := os.Stat(filepath.Join(mnt, "General", "Campaign.txt")); err != nil {
		t.Errorf("a seeded file through the mount: %v", err)
	}
	metricsBefore := svc.metrics(t)

	// --- alice writes through the mount; bob sees it through Graph. ---
	started := time.Now()
	shared := map[string][]byte{
		"From alice/note.txt":           []byte("hello bob\n"),
		"From alice/numbers.csv":        bytes.Repeat([]byte("1,2,3\n"), 20000),
		"From alice/deep/er/report.bin": pseudoRandom(11, 6<<20), // over 4 MiB: an upload session
	}
	for name, data := range shared {
		p := filepath.Join(mnt, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatalf("write %s through the mount: %v", name, err)
		}
	}
	for name, data := range shared {
		waitRemote(t, ctx, bob, driveID, name, sha(data), int64(len(data)), 90*time.Second)
	}
	t.Logf("bob saw alice's %d files through Graph %v after she wrote them", len(shared), time.Since(started).Round(time.Millisecond))

	// --- bob changes a file; alice sees it within a poll interval. ---
	changed := []byte("hello alice, bob was here\n")
	polls := func() int64 {
		t.Helper()
		cs, err := sim.admin.Counters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cs.Count(m365sim.RouteDelta, http.MethodGet, 0, tenant.Name+"/alice")
	}
	if _, err := bob.Upload(ctx, driveID, "From alice/note.txt", changed); err != nil {
		t.Fatal(err)
	}
	// Counted from when the change is on the server.
	pollsBefore := polls()
	started = time.Now()
	notePath := filepath.Join(mnt, "From alice", "note.txt")
	waitFor(t, "bob's change in alice's mount", 30*time.Second, func() bool {
		b, err := os.ReadFile(notePath)
		return err == nil && bytes.Equal(b, changed)
	})
	seen := time.Since(started)
	// The first delta poll after the change shows it (the folder's own
	// refresh on open may show it sooner): counted in polls, not in
	// seconds, so a loaded machine cannot make this pass or fail. The
	// simulator counts a request when it is answered, so each drive's
	// poll that was under way as the change landed may count too, without
	// the change (seen on a loaded machine: 2 polls of 1 drive).
	mountedDrives := 0
	if st, err := alice.c.Status(ctx); err == nil {
		for _, d := range st.Drives {
			if d.State == apitype.DriveMounted {
				mountedDrives++
			}
		}
	}
	n := polls() - pollsBefore
	t.Logf("bob's change showed in the mount after %v and %d delta polls of alice's %d mounted drives (poll interval %v)",
		seen.Round(time.Millisecond), n, mountedDrives, poll)
	if n > 2*int64(max(mountedDrives, 1)) {
		t.Errorf("bob's change showed only after %d delta polls of %d mounted drives; want it at the first poll after it (or the one under way)", n, mountedDrives)
	}

	// --- A conflict made on purpose: alice edits a file that bob
	// changes meanwhile; both versions survive. ---
	planPath := filepath.Join(mnt, "From alice", "plan.txt")
	if err := os.WriteFile(planPath, []byte("base\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitRemote(t, ctx, bob, driveID, "From alice/plan.txt", sha([]byte("base\n")), 5, 60*time.Second)
	f, err := os.OpenFile(planPath, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := []byte("alice's edit\n"), []byte("bob's edit\n")
	f.Write(mine)
	if _, err := bob.Upload(ctx, driveID, "From alice/plan.txt", theirs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after the conflicting edit: %v", err)
	}
	host, _ := os.Hostname()
	var conflictName string
	waitFor(t, "bob's version and alice's conflict copy on the server", 60*time.Second, func() bool {
		items, err := bob.List(ctx, driveID, "From alice")
		if err != nil {
			return false
		}
		theirsOK := false
		for _, it := range items {
			if it.Name == "plan.txt" {
				data, err := bob.Download(ctx, driveID, "From alice/plan.txt")
				theirsOK = err == nil && bytes.Equal(data, theirs)
			}
			if strings.HasPrefix(it.Name, "plan (conflict from "+host+" ") && strings.HasSuffix(it.Name, ").txt") {
				data, err := bob.Download(ctx, driveID, "From alice/"+it.Name)
				if err == nil && bytes.Equal(data, mine) {
					conflictName = it.Name
				}
			}
		}
		return theirsOK && conflictName != ""
	})
	alice.waitStatus(t, "the conflict reported in the agent's status", 30*time.Second, func(st apitype.Status) bool {
		return len(st.Conflicts) > 0
	})
	t.Logf("on-purpose conflict kept both versions: plan.txt (bob's) and %q (alice's)", conflictName)

	// --- Chaos during a large copy. ---
	chaos(t, ctx, sim, svc, alice, bob, driveID, copyMB)

	// --- Tokens only in the keyring; cached content encrypted. ---
	checkAgentFiles(t, dir, sess, alice, [][]byte{shared["From alice/numbers.csv"][:4096], pseudoRandom(100, 4096)})

	// --- alice's UPN appears nowhere in the service's keeping. ---
	svc.start(t) // back up, to scrape its metrics once more
	checkNoUPN(t, svc, metricsBefore+svc.metrics(t), id.upn("alice"))
	checkIdentities(t, id)
	t.Logf("system test (%s) took %v", id.name, time.Since(began).Round(time.Second))
}

// checkAssigned asks the service for the mappings of tok's user, as the
// agent does, and checks whether mapping id is among them.
func checkAssigned(t *testing.T, svc *service, tok, id string, want bool, who string) {
	t.Helper()
	var list apitype.MappingList
	if code := svc.call(t, http.MethodGet, apitype.RouteServiceMappings, tok, nil, &list); code != http.StatusOK {
		t.Fatalf("%s GET %s: status %d", who, apitype.RouteServiceMappings, code)
	}
	got := slices.ContainsFunc(list.Mappings, func(m apitype.Mapping) bool { return m.ID == id })
	if got != want {
		t.Errorf("%s gets the mapping assigned to the group: %v, want %v (mappings %+v)", who, got, want, list.Mappings)
	}
}

// signIn runs `mapdrive login --device-code --json` and approves the code
// it prints through the simulator's admin API, as alice would in a browser.
func signIn(t *testing.T, ctx context.Context, a *agent, s *sim, upn string) {
	t.Helper()
	args := []string{"login", "--device-code", "--json"}
	a.id.seen.add("mapdrive login", append(args, a.env...)...)
	cmd := exec.Command(bins["mapdrive"], args...)
	cmd.Env = a.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := jsonLines(out)
	var first apitype.LoginResponse
	if err := dec(&first); err != nil || first.Prompt == nil || first.Prompt.UserCode == "" {
		cmd.Wait()
		t.Fatalf("mapdrive login --device-code --json: first line %+v, %v; stderr %s", first, err, stderr.Bytes())
	}
	if err := s.admin.ApproveDeviceCode(ctx, first.Prompt.UserCode, upn); err != nil {
		t.Fatal(err)
	}
	var acct apitype.Account
	if err := dec(&acct); err != nil {
		t.Fatalf("mapdrive login: second line: %v; stderr %s", err, stderr.Bytes())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mapdrive login: %v; stderr %s", err, stderr.Bytes())
	}
	if !strings.EqualFold(acct.Username, upn) {
		t.Fatalf("signed in as %q, want %s", acct.Username, upn)
	}
}

// copyFile is one file of the chaos copy: its content is the stream of a
// seeded generator, so it can be written again and checked without being
// kept anywhere.
type copyFile struct {
	name string
	size int64
	seed uint64
}

func (f copyFile) reader() io.Reader {
	return io.LimitReader(rand.NewChaCha8(seedBytes(f.seed)), f.size)
}

func (f copyFile) sum() [32]byte {
	h := sha256.New()
	io.Copy(h, f.reader())
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// chaos copies copyMB MB into the mount (two large files and many 1 MiB
// ones) while the service stops, the simulator throttles and fails 10% of
// requests, and the agent is SIGKILLed and restarted; then it checks every
// file on the server.
func chaos(t *testing.T, ctx context.Context, sim *sim, svc *service, a *agent, bob *m365sim.UserClient, driveID string, copyMB int) {
	total := int64(copyMB) << 20
	files := []copyFile{{"big-1.bin", total * 2 / 5, 1}, {"big-2.bin", total / 5, 2}}
	rest := total - files[0].size - files[1].size
	for i := 0; rest > 0; i++ {
		n := min(rest, 1<<20)
		files = append(files, copyFile{fmt.Sprintf("small/part-%04d.bin", i), n, uint64(100 + i)})
		rest -= n
	}
	mnt := filepath.Join(a.mountRoot, "Projects")
	dst := filepath.Join(mnt, "chaos")
	if err := os.MkdirAll(filepath.Join(dst, "small"), 0o755); err != nil {
		t.Fatal(err)
	}

	// The copier pauses at each chaos milestone until the step is done, so
	// the chaos lands mid-copy however fast the machine writes.
	var written atomic.Int64
	var rewrites atomic.Int32
	// current is the file the copier has open; rewritten lists the files
	// it wrote again after a failed attempt (read after wg.Wait).
	var current atomic.Value
	var rewritten []copyFile
	marks := []int64{total * 15 / 100, total * 30 / 100, total * 50 / 100}
	reached, resume := make(chan int), make(chan struct{})
	next := 0
	pace := func() {
		for next < len(marks) && written.Load() >= marks[next] {
			reached <- next
			<-resume
			next++
		}
	}
	var wg sync.WaitGroup
	copyErr := make(chan error, 1)
	started := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(reached)
		for _, f := range files {
			current.Store(f.name)
			for attempt := 1; ; attempt++ {
				err := writeFile(filepath.Join(dst, filepath.FromSlash(f.name)), f, &written, pace)
				if err == nil {
					break
				}
				// The mount went away (the agent was killed): like a user
				// whose cp failed, wait for the drive and copy the file again.
				t.Logf("chaos: writing %s failed (%v); writing it again once the drive is back", f.name, err)
				if attempt == 5 {
					copyErr <- fmt.Errorf("copy %s: %w (after %d attempts)", f.name, err, attempt)
					return
				}
				rewrites.Add(1)
				if attempt == 1 {
					rewritten = append(rewritten, f)
				}
				deadline := time.Now().Add(2 * time.Minute)
				for time.Now().Before(deadline) {
					if _, err := os.Stat(filepath.Join(dst, "small")); err == nil && mounted(mnt) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}
		copyErr <- nil
	}()
	at := func(step int) bool {
		i, ok := <-reached
		if !ok {
			return false
		}
		if i != step {
			t.Fatalf("chaos step %d reached, want %d", i, step)
		}
		return true
	}

	// 15%: the service stops. The drive keeps working.
	if at(0) {
		svc.p.stop(t)
		t.Logf("chaos: service stopped at %d MB", written.Load()>>20)
		if _, err := os.ReadDir(mnt); err != nil {
			t.Errorf("the drive with the service down: %v", err)
		}
		resume <- struct{}{}
	}

	// 30%: the simulator throttles and fails 10% of Graph requests.
	if at(1) {
		if _, err := sim.admin.SetFaults(ctx, m365sim.FaultSet{Seed: 42, Faults: []m365sim.Fault{
			{Kind: m365sim.FaultThrottle, Status: 429, RetryAfter: 1, Times: 6},
			{Kind: m365sim.FaultError, Status: 503, Rate: 0.05},
			{Kind: m365sim.FaultError, Status: 500, Rate: 0.05},
		}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("chaos: faults on at %d MB", written.Load()>>20)
		resume <- struct{}{}
	}

	// 50%, in the middle of a file: the agent is SIGKILLed, then started
	// again. With the service still down, it mounts the drive from the
	// stored mapping and lease.
	var interrupted string // the file the copier had open at the kill
	if at(2) {
		// The copier waits in writeFile, its file open, until resumed.
		interrupted, _ = current.Load().(string)
		// alice mounts her OneDrive by hand and copies a file into it, which
		// is still waiting to upload when the agent dies: after the restart
		// the drive must come back by itself (not stay "Transport endpoint
		// is not connected") and the upload finish without her mounting it.
		od, err := a.c.Mount(ctx, "OneDrive", "")
		if err != nil {
			t.Fatalf("alice mounts her OneDrive by hand: %v", err)
		}
		odFile := pseudoRandom(77, 6<<20)
		if err := os.WriteFile(filepath.Join(od.Mountpoint, "before-the-crash.bin"), odFile, 0o644); err != nil {
			t.Fatalf("write into the OneDrive mount: %v", err)
		}
		// Kill it in the middle of an upload when there is one.
		var inFlight []string
		pending := 0
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && len(inFlight) == 0; time.Sleep(20 * time.Millisecond) {
			if st, err := a.c.Status(ctx); err == nil {
				pending = 0
				for _, d := range st.Drives {
					pending += d.PendingUploads
				}
				for _, tr := range st.Transfers {
					if tr.Direction == apitype.Upload && tr.State == "active" {
						inFlight = append(inFlight, fmt.Sprintf("%s %d/%d MB", tr.Path, tr.Done>>20, tr.Total>>20))
					}
				}
			}
		}
		var held []byte
		if len(inFlight) == 0 && pending == 0 {
			// Everything went up before a poll could see it (a quick or
			// quiet machine): hold one change back, so that the crash
			// has a waiting upload to recover. Pausing is not stored, so
			// the restarted agent uploads it.
			if err := a.c.PauseUploads(ctx); err != nil {
				t.Fatalf("pause uploads: %v", err)
			}
			held = pseudoRandom(78, 1<<20)
			if err := os.WriteFile(filepath.Join(od.Mountpoint, "held-at-the-crash.bin"), held, 0o644); err != nil {
				t.Fatalf("write into the OneDrive mount: %v", err)
			}
			for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && pending == 0; time.Sleep(50 * time.Millisecond) {
				if st, err := a.c.Status(ctx); err == nil {
					for _, d := range st.Drives {
						pending += d.PendingUploads
					}
				}
			}
		}
		a.p.kill()
		t.Logf("chaos: agent killed during the uploads of %v, %d changes waiting to upload", inFlight, pending)
		if len(inFlight) == 0 && pending == 0 {
			t.Errorf("the agent was killed with no upload in flight and none waiting: the crash tested nothing")
		}
		t.Logf("chaos: agent killed at %d MB", written.Load()>>20)
		resume <- struct{}{}
		time.Sleep(time.Second)
		a.start(t)
		st := a.waitStatus(t, "Projects mounted again after the SIGKILL, on the stored lease", 90*time.Second, func(st apitype.Status) bool {
			d := driveNamed(st, "Projects")
			return d != nil && d.State == apitype.DriveMounted && st.Licence.State != apitype.LicenceUnknown
		})
		if st.Licence.State != apitype.LicenceCached {
			t.Errorf("licence after the restart with the service down = %+v, want cached", st.Licence)
		}
		st = a.waitStatus(t, "the OneDrive alice mounted by hand mounted again after the SIGKILL", 90*time.Second, func(st apitype.Status) bool {
			d := driveNamed(st, "OneDrive")
			return d != nil && d.State == apitype.DriveMounted
		})
		if d := driveNamed(st, "OneDrive"); d.Mountpoint != od.Mountpoint {
			t.Errorf("OneDrive came back at %s, want %s", d.Mountpoint, od.Mountpoint)
		}
		if _, err := os.Stat(od.Mountpoint); err != nil || !mounted(od.Mountpoint) {
			t.Errorf("the OneDrive mountpoint after the restart: %v (mounted %v)", err, mounted(od.Mountpoint))
		}
		waitRemote(t, ctx, sim.admin.As(a.id.tenant.Name, "alice"), od.DriveID, "before-the-crash.bin", sha(odFile), int64(len(odFile)), 3*time.Minute)
		if held != nil {
			waitRemote(t, ctx, sim.admin.As(a.id.tenant.Name, "alice"), od.DriveID, "held-at-the-crash.bin", sha(held), int64(len(held)), 3*time.Minute)
		}
		t.Logf("chaos: the OneDrive mounted by hand came back after the SIGKILL and its pending upload finished")
	}

	wg.Wait()
	if err := <-copyErr; err != nil {
		t.Fatalf("the copy failed: %v", err)
	}
	copied := time.Since(started)
	t.Logf("chaos: %d MB in %d files copied through the mount in %v (%d files written again after the kill)",
		copyMB, len(files), copied.Round(time.Second), rewrites.Load())
	// The file open at the kill failed and was copied again, the way a
	// user re-runs cp; its content is checked on the server below.
	i := slices.IndexFunc(rewritten, func(f copyFile) bool { return f.name == interrupted })
	if interrupted == "" || i < 0 {
		t.Fatalf("%q, open in the copy when the agent was killed, was not written again (written again: %v): the re-run of cp was not tested",
			interrupted, rewritten)
	}
	again := rewritten[i]

	// Every file reaches the server whole, once; nothing else appears.
	want := map[string]copyFile{}
	for _, f := range files {
		want[f.name] = f
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		bad := remoteMismatch(t, ctx, bob, driveID, want)
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 minutes the server still differs from what alice copied: %s", bad)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("chaos: every file on the server %v after the copy ended", (time.Since(started) - copied).Round(time.Second))
	checkRewritten(t, ctx, bob, driveID, again)
	fs, err := sim.admin.Faults(ctx)
	if err == nil {
		fired := 0
		for _, f := range fs.Faults {
			fired += f.Fired
		}
		t.Logf("chaos: the simulator failed or throttled %d requests", fired)
		if fired == 0 {
			t.Errorf("no fault fired: the chaos did not happen")
		}
	}
	if err := sim.admin.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := bob.Download(ctx, driveID, "chaos/"+f.name)
		if err != nil {
			t.Fatalf("download %s: %v", f.name, err)
		}
		if sha256.Sum256(data) != f.sum() {
			t.Errorf("%s: content on the server differs from what alice wrote", f.name)
		}
	}
	// And the mount reads back what was written.
	for _, f := range files[2:min(len(files), 22)] {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(f.name)))
		if err != nil || sha256.Sum256(got) != f.sum() {
			t.Errorf("%s read back through the mount: %v, hash mismatch %v", f.name, err, err == nil)
		}
	}
}

// checkRewritten checks, through Graph as bob and not through the mount,
// that the server holds f, the file the SIGKILL interrupted and the copy
// wrote again, byte for byte. (Its first attempt never reached the
// server: a file is uploaded when it is closed.)
func checkRewritten(t *testing.T, ctx context.Context, bob *m365sim.UserClient, driveID string, f copyFile) {
	t.Helper()
	got, err := bob.Download(ctx, driveID, "chaos/"+f.name)
	if err != nil {
		t.Fatalf("download %s, written again after the kill: %v", f.name, err)
	}
	want, err := io.ReadAll(f.reader())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		t.Errorf("%s, written again after the kill: the server has %d bytes, the copy wrote %d; they differ from byte %d", f.name, len(got), len(want), at)
		return
	}
	t.Logf("chaos: %s, open when the agent was killed, was written again and the server holds its %d bytes", f.name, len(got))
}

// writeFile writes f at path through the mount and closes it, counting
// bytes written and calling pace before each MiB.
func writeFile(path string, f copyFile, written *atomic.Int64, pace func()) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	r := f.reader()
	for {
		pace()
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				out.Close()
				return err
			}
			written.Add(int64(n))
		}
		if rerr != nil {
			break
		}
	}
	return out.Close()
}

// remoteMismatch lists the chaos folder as bob and describes the first
// difference from want: a missing file, a wrong size, or anything extra
// (a duplicate, a conflict copy, a leftover temporary). "" means none.
func remoteMismatch(t *testing.T, ctx context.Context, bob *m365sim.UserClient, driveID string, want map[string]copyFile) string {
	t.Helper()
	got := map[string]int64{}
	for _, folder := range []string{"chaos", "chaos/small"} {
		items, err := bob.List(ctx, driveID, folder)
		if err != nil {
			return err.Error()
		}
		for _, it := range items {
			if it.Folder != nil {
				continue
			}
			got[strings.TrimPrefix(folder+"/"+it.Name, "chaos/")] = it.Size
		}
	}
	for name, f := range want {
		size, ok := got[name]
		if !ok {
			return name + " is missing"
		}
		if size != f.size {
			return fmt.Sprintf("%s has %d bytes, want %d", name, size, f.size)
		}
	}
	var extra []string
	for name := range got {
		if _, ok := want[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return "unexpected files: " + strings.Join(extra, ", ")
	}
	return ""
}

// waitRemote waits until bob reads name with the given size and hash.
func waitRemote(t *testing.T, ctx context.Context, bob *m365sim.UserClient, driveID, name string, sum [32]byte, size int64, timeout time.Duration) {
	t.Helper()
	waitFor(t, "bob to see "+name, timeout, func() bool {
		it, err := bob.Get(ctx, driveID, name)
		if err != nil || it.Size != size {
			return false
		}
		data, err := bob.Download(ctx, driveID, name)
		return err == nil && sha256.Sum256(data) == sum
	})
}

// checkNoUPN looks for alice's UPN, in any case, in a pg_dump of the
// service's database, its log and the metrics scraped.
func checkNoUPN(t *testing.T, svc *service, metrics, aliceUPN string) {
	t.Helper()
	dump, err := exec.Command("pg_dump", "--no-owner", svc.db).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	logData, err := os.ReadFile(svc.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, text, mustHave string
	}{
		{"the database (pg_dump)", string(dump), "CREATE TABLE"},
		{"the service's log", string(logData), "validat"},
		{"the service's metrics", metrics, "mapdrive_validations_total"},
	} {
		// The check must be able to fail: each source holds what it should.
		if !strings.Contains(c.text, c.mustHave) {
			t.Errorf("%s does not contain %q: the scan looked at the wrong thing", c.what, c.mustHave)
		}
		lower := strings.ToLower(c.text)
		for _, needle := range []string{aliceUPN, strings.NewReplacer("@", "_", ".", "_").Replace(aliceUPN)} {
			if i := strings.Index(lower, needle); i >= 0 {
				t.Errorf("alice's UPN (%s) found in %s: …%s…", needle, c.what, c.text[max(0, i-80):min(len(c.text), i+80)])
			}
		}
	}
	t.Logf("no UPN in %d bytes of pg_dump, %d bytes of service log, %d bytes of metrics", len(dump), len(logData), len(metrics))
}

// checkAgentFiles scans every file the agent keeps on disk (state and
// cache, and the user's config and home) for tokens and for plaintext
// file content: the MSAL cache lives only in the keyring, and cached
// content is encrypted at rest. The keyring's own file is not scanned.
func checkAgentFiles(t *testing.T, dir string, sess *session, alice *agent, plaintexts [][]byte) {
	t.Helper()
	needles := map[string][]byte{
		"a refresh token": []byte("refresh_token"), "MSAL's cache": []byte(`"RefreshToken"`),
		"a JWT": []byte("eyJhbGciOi"), "a JWT header": []byte("eyJ0eXAiOi"),
	}
	for i, p := range plaintexts {
		needles[fmt.Sprintf("file content #%d in plaintext", i+1)] = p
	}
	var files int
	var bytesScanned int64
	if key := cacheKey(t, sess, alice); len(key) > 0 {
		needles["the cache key"] = key
		needles["the cache key in hex"] = []byte(hex.EncodeToString(key))
		needles["the cache key in base64"] = []byte(base64.StdEncoding.EncodeToString(key))
		needles["the cache key in base64url"] = []byte(base64.RawURLEncoding.EncodeToString(key))
	}
	// The keyring's own file (data/keyrings) is encrypted by
	// gnome-keyring with its password; it is scanned too.
	for _, sub := range []string{"agent-state", "agent-cache", "home", "config", "run", "data", "agent.log"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("read %s: %v", path, err)
				return nil
			}
			files++
			bytesScanned += int64(len(data))
			for what, n := range needles {
				if bytes.Contains(data, n) {
					t.Errorf("%s found in the agent's file %s", what, path)
				}
			}
			return nil
		})
	}
	// The scan must be able to fail: the cache holds the data written.
	if bytesScanned < 1<<20 {
		t.Errorf("only %d bytes in %d agent files: the scan looked in the wrong place", bytesScanned, files)
	}
	t.Logf("no token or plaintext content in %d agent files (%d MB)", files, bytesScanned>>20)
}

func libraryID(t *testing.T, info *m365sim.Info, tenant, site, lib string) string {
	t.Helper()
	for _, tn := range info.Tenants {
		if tn.Name != tenant {
			continue
		}
		for _, s := range tn.Sites {
			if s.Name != site {
				continue
			}
			for _, l := range s.Libraries {
				if l.Name == lib {
					return l.ID
				}
			}
		}
	}
	t.Fatalf("no library %s/%s/%s in the simulator", tenant, site, lib)
	return ""
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

func seedBytes(s uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(s >> (8 * i))
	}
	return b
}

func pseudoRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(rand.NewChaCha8(seedBytes(seed)), b)
	return b
}

// cacheKey reads the content cache's key of alice's account from her
// keyring, as the agent does, so the scan can look for it on disk.
func cacheKey(t *testing.T, sess *session, alice *agent) []byte {
	t.Helper()
	var acct apitype.Account
	if err := json.Unmarshal(alice.mapdrive(t, "whoami", "--json"), &acct); err != nil {
		t.Errorf("whoami --json: %v", err)
		return nil
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", sess.bus)
	key, err := keyring.New().Get(agentpkg.CacheKeyName(acct))
	if err != nil || len(key) != 32 {
		t.Errorf("read the cache key from the keyring: %d bytes, %v", len(key), err)
		return nil
	}
	return key
}
