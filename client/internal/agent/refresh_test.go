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

// TestRefreshUnmountsRemovedMappingAfterUploads: the admin removes a
// mapping while the drive has uploads pending. The next refresh keeps it
// mounted and says why; once the queue is empty it is unmounted and gone
// from the drive list, and a busy unmount is reported and retried.
func TestRefreshUnmountsRemovedMappingAfterUploads(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	ctx := context.Background()
	st := h.waitFor("Finance auto-mounted", mounted("Finance"))
	fm := h.mnt.get(driveByName(st, "Finance").Mountpoint)
	fm.mu.Lock()
	fm.stats.Pending = 2
	fm.unmountErr = syscall.EBUSY
	fm.mu.Unlock()

	h.svc.unassign(financeMapping.ID)
	st, err := h.c.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := driveByName(st, "Finance")
	if d == nil || d.State != apitype.DriveMounted || d.Error == nil || d.Error.Code != apitype.CodeMappingRemoved || d.AutoMount {
		t.Fatalf("Finance right after its mapping was removed = %+v, want still mounted, flagged %s", d, apitype.CodeMappingRemoved)
	}
	time.Sleep(100 * time.Millisecond) // several stats samples
	fm.mu.Lock()
	n := fm.unmount
	fm.stats.Pending = 0
	fm.mu.Unlock()
	if n != 0 {
		t.Fatalf("unmounted %d times with uploads pending", n)
	}

	h.waitFor("the busy unmount reported", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.Error != nil && strings.Contains(d.Error.Message, "could not be unmounted")
	})
	fm.mu.Lock()
	fm.unmountErr = nil
	fm.mu.Unlock()
	h.clock.advance(retireDelay)
	h.waitFor("Finance unmounted and dropped", func(st apitype.Status) bool { return driveByName(st, "Finance") == nil })
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.unmount != 2 {
		t.Errorf("Unmount called %d times, want 2 (busy, then done)", fm.unmount)
	}
}

// TestRefreshKeepsMountsWhenLicenceRefused: a refused licence carries no
// mapping list, so it is no reason to unmount assigned drives.
func TestRefreshKeepsMountsWhenLicenceRefused(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	h.waitFor("Finance auto-mounted", mounted("Finance"))
	h.svc.mu.Lock()
	h.svc.refuse = apitype.ServiceCodeSeatsExhausted
	h.svc.mu.Unlock()
	st, err := h.c.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if d := driveByName(st, "Finance"); d == nil || d.State != apitype.DriveMounted || (d.Error != nil && d.Error.Code == apitype.CodeMappingRemoved) {
		t.Fatalf("Finance after a refused licence = %+v, want mounted and not flagged removed", d)
	}
	if fm := h.mnt.get(driveByName(st, "Finance").Mountpoint); fm.unmount != 0 {
		t.Errorf("unmounted after a refused licence")
	}
}
