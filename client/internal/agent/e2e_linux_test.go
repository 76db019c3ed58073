//go:build linux

package agent

// End-to-end: the real agent (auth, graph, vfs, fusefs, keyring in
// memory) against m365sim, driven through localclient over the real socket.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func requireFUSE(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if _, err := exec.LookPath("fusermount"); err != nil {
		missing = append(missing, "fusermount")
	}
	if os.Getuid() != 0 {
		missing = append(missing, "root")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("FUSE unavailable under CI (missing %s); run make deps", strings.Join(missing, ", "))
	}
	t.Skipf("FUSE unavailable (missing %s)", strings.Join(missing, ", "))
}

func waitStatus(t *testing.T, c *localclient.Client, what string, ok func(apitype.Status) bool) apitype.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := c.WatchStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var last apitype.Status
	for {
		st, err := w.Next()
		if err != nil {
			t.Fatalf("waiting for %s: %v; last status: %+v", what, err, last)
		}
		if ok(st) {
			return st
		}
		last = st
	}
}

func TestEndToEndDeviceCode(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	resp, err := r.c.Login(ctx, true)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if resp.Prompt == nil || resp.Prompt.UserCode == "" || !strings.Contains(resp.Prompt.Message, resp.Prompt.UserCode) {
		t.Fatalf("Login = %+v, want a device-code prompt", resp)
	}
	if err := sim.Admin().ApproveDeviceCode(ctx, resp.Prompt.UserCode, "alice@contoso.com"); err != nil {
		t.Fatalf("approve the device code: %v", err)
	}
	acct, err := r.c.WaitLogin(ctx)
	if err != nil {
		t.Fatalf("WaitLogin: %v", err)
	}
	if acct.Username != "alice@contoso.com" || acct.TenantID != directory.DemoContosoID || acct.DisplayName != "Alice Anders" {
		t.Errorf("account = %+v, want alice of contoso", acct)
	}
	if r.secrets.Len() == 0 {
		t.Errorf("no tokens in the keyring after sign-in")
	}

	st := waitStatus(t, r.c, "drives discovered", func(st apitype.Status) bool { return len(st.Drives) >= 3 })
	var names []string
	for _, d := range st.Drives {
		names = append(names, d.Name)
	}
	t.Logf("alice's drives: %q", names)
	for _, want := range []string{"OneDrive", "Finance Team", "Marketing"} {
		if !slices.Contains(names, want) {
			t.Errorf("drives %q lack %q", names, want)
		}
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "Finance - ") }) {
		t.Errorf("drives %q lack the Finance site's other library", names)
	}

	mp := filepath.Join(t.TempDir(), "onedrive")
	d, err := r.c.Mount(ctx, "OneDrive", mp)
	if err != nil {
		t.Fatalf("Mount OneDrive: %v", err)
	}
	if d.State != apitype.DriveMounted || d.Mountpoint != mp {
		t.Errorf("Mount = %+v", d)
	}
	got, err := os.ReadFile(filepath.Join(mp, "Documents", "Welcome.txt"))
	if err != nil {
		t.Fatalf("read through the mount: %v", err)
	}
	if want := "Welcome to your OneDrive, mapped by Mapdrive.\n"; string(got) != want {
		t.Errorf("Welcome.txt = %q, want %q", got, want)
	}
	if err := os.WriteFile(filepath.Join(mp, "Documents", "from-agent.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	// The status shows the drive mounted with some cache in use.
	waitStatus(t, r.c, "cache use reported", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return d != nil && d.State == apitype.DriveMounted && d.CacheBytes > 0
	})

	// The file written reaches the server (uploaded on close).
	other := sim.Admin().As("contoso", "alice@contoso.com")
	var data []byte
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if data, err = other.Download(ctx, d.DriveID, "Documents/from-agent.txt"); err == nil {
			break
		}
	}
	if string(data) != "hello\n" {
		t.Errorf("server copy of from-agent.txt = %q, %v", data, err)
	}

	if _, err := r.c.Unmount(ctx, "OneDrive"); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	if ents, err := os.ReadDir(mp); err != nil || len(ents) != 0 {
		t.Errorf("mountpoint after unmount: %d entries, %v; want empty", len(ents), err)
	}
	if err := r.c.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, err := r.c.WhoAmI(ctx); localclient.Code(err) != apitype.CodeNotSignedIn {
		t.Errorf("WhoAmI after logout = %v, want not_signed_in", err)
	}
}

func TestEndToEndInteractive(t *testing.T) {
	simClock := &clock{}
	sim := m365sim.StartForTest(t, m365sim.WithNow(simClock.Now))
	r := startAgent(t, sim, agentSetup{upn: "bob@contoso.com"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := r.c.Login(ctx, false)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if resp.Account == nil {
		if resp.Prompt == nil || !strings.HasPrefix(resp.Prompt.AuthURL, sim.BaseURL()) {
			t.Fatalf("Login = %+v, want the sign-in page of the simulator", resp)
		}
		if _, err := r.c.WaitLogin(ctx); err != nil {
			t.Fatalf("WaitLogin: %v", err)
		}
	}
	acct, err := r.c.WhoAmI(ctx)
	if err != nil || acct.Username != "bob@contoso.com" {
		t.Errorf("WhoAmI = %+v, %v; want bob", acct, err)
	}
	waitStatus(t, r.c, "bob's drives", func(st apitype.Status) bool { return len(st.Drives) > 0 })

	// The administrator revokes bob's sessions: the agent says the sign-in
	// expired and what to do, and keeps running.
	if err := sim.Admin().Revoke(ctx, "contoso", "bob@contoso.com"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	simClock.advance(2 * time.Hour) // the access token expires too
	r.agent.Refresh()
	st := waitStatus(t, r.c, "sign-in expired", func(st apitype.Status) bool { return st.SignIn == apitype.SignInExpired })
	found := false
	for _, p := range st.Errors {
		found = found || (p.Code == apitype.CodeSignInExpired && strings.Contains(p.Action, "mapdrive login"))
	}
	if !found {
		t.Errorf("status errors %+v lack sign_in_expired with advice", st.Errors)
	}
}

// TestEndToEndUnmountedDriveFinishesItsUploads: changes made before a
// drive is unmounted are uploaded without mounting it again, both right
// after the unmount and by the next agent after a restart.
func TestEndToEndUnmountedDriveFinishesItsUploads(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	base, mem := t.TempDir(), keyring.NewMemory()
	r := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base, mem: mem})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	loginAs(t, ctx, r, "alice@contoso.com")
	waitStatus(t, r.c, "OneDrive discovered", func(st apitype.Status) bool { return driveByName(st, "OneDrive") != nil })
	server := sim.Admin().As("contoso", "alice@contoso.com")
	onServer := func(driveID, name, want string) {
		t.Helper()
		var got []byte
		var err error
		for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if got, err = server.Download(ctx, driveID, "Documents/"+name); err == nil && string(got) == want {
				return
			}
		}
		t.Fatalf("server copy of %s = %q, %v; want %q", name, got, err, want)
	}
	// writeThenUnmount mounts OneDrive, writes name with uploads paused,
	// and unmounts it with the change still queued.
	writeThenUnmount := func(r *realAgent, name, content string) apitype.Drive {
		t.Helper()
		d, err := r.c.Mount(ctx, "OneDrive", filepath.Join(base, "mnt", "OneDrive"))
		if err != nil {
			t.Fatalf("Mount: %v", err)
		}
		if err := r.c.PauseUploads(ctx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.Mountpoint, "Documents", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, r.c, name+" queued", func(st apitype.Status) bool {
			d := driveByName(st, "OneDrive")
			return d != nil && d.PendingUploads > 0
		})
		if _, err := r.c.Unmount(ctx, "OneDrive"); err != nil {
			t.Fatalf("Unmount: %v", err)
		}
		st := waitStatus(t, r.c, "the unmounted drive's queue shown", func(st apitype.Status) bool {
			d := driveByName(st, "OneDrive")
			return d != nil && d.State == apitype.DriveUnmounted && d.PendingUploads > 0
		})
		if mountPresent(d.Mountpoint) {
			t.Fatal("OneDrive still mounted after Unmount")
		}
		return *driveByName(st, "OneDrive")
	}

	// 1. Unmounted with a change queued: resuming uploads sends it.
	d := writeThenUnmount(r, "after-unmount.txt", "sent after the unmount\n")
	if err := r.c.ResumeUploads(ctx); err != nil {
		t.Fatal(err)
	}
	onServer(d.DriveID, "after-unmount.txt", "sent after the unmount\n")
	waitStatus(t, r.c, "the drained queue empty", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return d != nil && d.PendingUploads == 0
	})

	// 2. Unmounted with a change queued, then the agent stops: the next
	// agent sends it without mounting the drive.
	d = writeThenUnmount(r, "after-restart.txt", "sent by the next agent\n")
	r.stop()
	r2 := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", base: base, mem: mem})
	onServer(d.DriveID, "after-restart.txt", "sent by the next agent\n")
	st := waitStatus(t, r2.c, "the next agent's queue empty", func(st apitype.Status) bool {
		d := driveByName(st, "OneDrive")
		return d != nil && d.PendingUploads == 0
	})
	if d := driveByName(st, "OneDrive"); d.State != apitype.DriveUnmounted || mountPresent(d.Mountpoint) {
		t.Errorf("OneDrive after the next agent drained it = %+v, want still unmounted (the user unmounted it)", d)
	}
}
