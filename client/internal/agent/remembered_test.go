package agent

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestRestartMountsWhatTheUserMounted mounts the discovered OneDrive by
// hand at a mountpoint of the user's choosing, stops the agent (as a
// crash would, without any unmount by the user) and starts a new one on
// the same state dir: OneDrive comes back at the same mountpoint, beside
// the assigned Finance, and every owned mountpoint is checked for a stale
// mount first. After an explicit unmount, a restart leaves it unmounted.
func TestRestartMountsWhatTheUserMounted(t *testing.T) {
	ctx := context.Background()
	svc := newLeaseService(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	h.waitFor("Finance auto-mounted", mounted("Finance"))
	mp := filepath.Join(t.TempDir(), "my-onedrive")
	if _, err := h.c.Mount(ctx, "OneDrive", mp); err != nil {
		t.Fatalf("Mount OneDrive: %v", err)
	}
	h.stop()

	h2 := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	st := h2.waitFor("OneDrive and Finance mounted again", func(st apitype.Status) bool {
		return mounted("OneDrive")(st) && mounted("Finance")(st)
	})
	if d := driveByName(st, "OneDrive"); d.Mountpoint != mp {
		t.Errorf("OneDrive came back at %q, want the user's %q", d.Mountpoint, mp)
	}
	h2.mnt.mu.Lock()
	cleaned := slices.Clone(h2.mnt.cleaned)
	h2.mnt.mu.Unlock()
	fin := driveByName(st, "Finance").Mountpoint
	if !slices.Contains(cleaned, mp) || !slices.Contains(cleaned, fin) {
		t.Errorf("stale-mount check covered %q, want both %q and %q", cleaned, mp, fin)
	}
	if _, err := h2.c.Unmount(ctx, "OneDrive"); err != nil {
		t.Fatalf("Unmount OneDrive: %v", err)
	}
	h2.stop()

	h3 := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	h3.waitFor("Finance mounted again", mounted("Finance"))
	// A refresh that returns has run automount to its end.
	st, err := h3.c.Refresh(ctx)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if mounted("OneDrive")(st) {
		t.Errorf("OneDrive mounted again after the user unmounted it")
	}
}
