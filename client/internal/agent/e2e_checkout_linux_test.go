//go:build linux

package agent

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestEndToEndExclusiveEditing: the admin maps the Marketing library,
// which alice shares with bob, with "exclusive editing" on (#17 item 3)
// through the service; the agent mounts it. Alice's write-open checks
// the file out (bob sees her hold it) and the check-in follows the
// upload. A file bob holds opens read-only only: a read-write open is
// EACCES, and the status names Bob as the holder.
func TestEndToEndExclusiveEditing(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	svcURL, bundle, _ := startService(t, sim)
	putPolicies(t, sim, svcURL, bundle, apitype.Policies{DeltaPollSeconds: 5, DefaultCacheLimitBytes: 1 << 30})
	contoso := sim.Directory().Tenant("contoso")
	mkt := apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Marketing Contracts", DriveLetter: "K", MountName: "MarketingContracts",
		Target:           apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: contoso.SiteURL(contoso.Site("Marketing")), LibraryName: "Documents"},
		ExclusiveEditing: true}, Everyone: true}
	adminCall(t, sim, svcURL, bundle, http.MethodPost, apitype.RouteAdminMappings, mkt, nil)

	e := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", svcURL: svcURL, bundle: bundle})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	loginAs(t, ctx, e, "alice@contoso.com")
	st := waitStatus(t, e.c, "Marketing Contracts mounted", func(st apitype.Status) bool {
		d := driveByName(st, "Marketing Contracts")
		return d != nil && d.State == apitype.DriveMounted
	})
	d := driveByName(st, "Marketing Contracts")
	bob := sim.Admin().As("contoso", "bob")
	for _, name := range []string{"mine.txt", "held.txt"} {
		if _, err := bob.Upload(ctx, d.DriveID, name, []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	held, err := bob.Get(ctx, d.DriveID, "held.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.JSON(ctx, http.MethodPost, "drives/"+d.DriveID+"/items/"+held.ID+"/checkout", nil, nil); err != nil {
		t.Fatal(err)
	}
	holder := func(name string) string {
		t.Helper()
		it, err := bob.Get(ctx, d.DriveID, name)
		if err != nil {
			t.Fatal(err)
		}
		if it.Publication == nil {
			return ""
		}
		return it.Publication.CheckedOutBy.User.DisplayName
	}
	mine, other := filepath.Join(d.Mountpoint, "mine.txt"), filepath.Join(d.Mountpoint, "held.txt")
	waitFor(t, time.Minute, "bob's files in the mount", func() bool {
		_, e1 := os.Stat(mine)
		_, e2 := os.Stat(other)
		return e1 == nil && e2 == nil
	})

	f, err := os.OpenFile(mine, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open mine.txt for writing: %v", err)
	}
	if got := holder("mine.txt"); got != "Alice Anders" {
		f.Close()
		t.Fatalf("while alice has mine.txt open for writing the server shows holder %q, want Alice Anders", got)
	}
	if _, err := f.WriteAt([]byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "mine.txt uploaded and checked in", func() bool {
		b, err := bob.Download(ctx, d.DriveID, "mine.txt")
		return err == nil && string(b) == "v2" && holder("mine.txt") == ""
	})

	if f, err := os.OpenFile(other, os.O_RDWR, 0); !errors.Is(err, syscall.EACCES) {
		if err == nil {
			f.Close()
		}
		t.Errorf("read-write open of a file bob holds: %v, want EACCES", err)
	}
	if b, err := os.ReadFile(other); err != nil || string(b) != "v1" {
		t.Errorf("read-only open of a file bob holds: %q, %v", b, err)
	}
	waitStatus(t, e.c, "the status naming bob as the holder", func(st apitype.Status) bool {
		for _, p := range st.Errors {
			if p.Code == apitype.CodeCheckedOut && strings.Contains(p.Message, "held.txt") && strings.Contains(p.Message, "Bob Berg") {
				return true
			}
		}
		return false
	})
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
