package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

var (
	marketingMapping = apitype.Mapping{ID: "map-marketing", DisplayName: "Marketing", MountName: "Marketing",
		OfflinePin: apitype.PinAllowed,
		Target:     apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: marketing.SiteURL, LibraryName: "Documents"}}
	homeMapping = apitype.Mapping{ID: "map-home", DisplayName: "Home", MountName: "Home",
		OfflinePin: apitype.PinAllowed, Target: apitype.Target{Kind: apitype.TargetOneDrive}}
)

// assignedMounted reports whether the drive called name is an assigned,
// mounted drive in st.
func assignedMounted(st apitype.Status, name string) bool {
	d := driveByName(st, name)
	return d != nil && d.Source == apitype.SourceAssigned && d.State == apitype.DriveMounted
}

// TestRefreshMountsNewAssignment assigns a drive while the user is signed
// in: `mapdrive refresh` (POST /v1/refresh) fetches and mounts it before
// it returns.
func TestRefreshMountsNewAssignment(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	ctx := context.Background()
	st := h.waitFor("Finance auto-mounted", mounted("Finance"))
	if assignedMounted(st, "Marketing") {
		t.Fatalf("Marketing mounted before it was assigned")
	}

	h.svc.assign(marketingMapping)
	st, err := h.c.Refresh(ctx)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if !assignedMounted(st, "Marketing") || !assignedMounted(st, "Finance") {
		t.Fatalf("after Refresh drives = %+v, want Finance and Marketing assigned and mounted", st.Drives)
	}
	if fm := h.mnt.get(filepath.Join(h.cfg.MountRoot, "Marketing")); fm == nil || fm.spec.Drive.ID != marketing.ID {
		t.Errorf("Marketing not mounted at its default mountpoint with its drive: %+v", fm)
	}
	// A second refresh with nothing new changes nothing and mounts nothing twice.
	st, err = h.c.Refresh(ctx)
	if err != nil || !assignedMounted(st, "Marketing") {
		t.Fatalf("second Refresh = %v, Marketing mounted %v", err, assignedMounted(st, "Marketing"))
	}
	h.mnt.mu.Lock()
	n := len(h.mnt.specs)
	h.mnt.mu.Unlock()
	if n != 2 {
		t.Errorf("%d mounts, want 2 (Finance, Marketing)", n)
	}
}

// TestRefreshIntervalMountsNewAssignment: with a short interval the agent
// finds and mounts a new assignment on its own.
func TestRefreshIntervalMountsNewAssignment(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn(), refreshInterval: 50 * time.Millisecond})
	h.waitFor("Finance auto-mounted", mounted("Finance"))
	h.svc.assign(homeMapping)
	st := h.waitFor("Home mounted by a scheduled refresh", func(st apitype.Status) bool { return assignedMounted(st, "Home") })
	if d := driveByName(st, "Home"); d.DriveID != oneDrive.ID {
		t.Errorf("Home is drive %q, want alice's OneDrive %q", d.DriveID, oneDrive.ID)
	}
}

func TestRefreshSignedOut(t *testing.T) {
	h := start(t, setup{})
	_, err := h.c.Refresh(context.Background())
	wantCode(t, "Refresh signed out", err, apitype.CodeNotSignedIn)
}

// TestRefreshIntervalFromConfig checks where the interval comes from.
func TestRefreshIntervalFromConfig(t *testing.T) {
	tests := []struct {
		name   string
		opt    time.Duration
		config time.Duration
		want   time.Duration
	}{
		{"default", 0, 0, 5 * time.Minute},
		{"config", 0, 2 * time.Minute, 2 * time.Minute},
		{"option wins", time.Second, 2 * time.Minute, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := ipc.Listen(filepath.Join(t.TempDir(), "agent.sock"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			a, err := New(Options{Listener: ln, RefreshInterval: tt.opt, Config: config.Config{RefreshInterval: tt.config}})
			if err != nil {
				t.Fatal(err)
			}
			if a.o.RefreshInterval != tt.want {
				t.Errorf("refresh interval = %v, want %v", a.o.RefreshInterval, tt.want)
			}
		})
	}
}

// TestShutdownAlreadyUnmounted: when the drive was unmounted behind the
// agent's back (libfuse's signal handler at SIGTERM), the failed unmount
// at shutdown is logged at debug, not as an error.
func TestShutdownAlreadyUnmounted(t *testing.T) {
	var logs syncBuffer
	h := start(t, setup{auth: newFakeAuth().signedIn(), logs: &logs})
	h.waitFor("Finance auto-mounted", mounted("Finance"))
	fm := h.mnt.get(filepath.Join(h.cfg.MountRoot, "Finance"))
	fm.mu.Lock()
	fm.unmountErr = &os.PathError{Op: "unmount", Path: fm.spec.Mountpoint, Err: syscall.EINVAL}
	fm.mu.Unlock()
	h.stop()
	out := logs.String()
	if fm.unmount != 1 {
		t.Errorf("Unmount called %d times at shutdown, want 1 (it releases the cache)", fm.unmount)
	}
	if strings.Contains(out, "level=ERROR") {
		t.Errorf("shutdown logged an error for a drive already unmounted:\n%s", out)
	}
	if !strings.Contains(out, "already unmounted") {
		t.Errorf("shutdown did not note the drive was already unmounted:\n%s", out)
	}
}
