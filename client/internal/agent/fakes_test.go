package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// fakeAuth is a hand-written Auth: a device-code sign-in completes when
// the test approves it.
type fakeAuth struct {
	mu       sync.Mutex
	acct     *Account
	approve  chan struct{}
	expired  bool
	loggedIn int
}

func newFakeAuth() *fakeAuth { return &fakeAuth{approve: make(chan struct{}, 1)} }

var alice = Account{Username: "alice@contoso.com", DisplayName: "Alice Anders", TenantID: "tid", UserID: "oid-alice"}

func (f *fakeAuth) LoginInteractive(ctx context.Context, showURL func(string)) (Account, error) {
	showURL("https://login.example/authorize?x=1")
	return f.wait(ctx)
}

func (f *fakeAuth) LoginDeviceCode(ctx context.Context, show func(DeviceCode)) (Account, error) {
	show(DeviceCode{Message: "To sign in, enter WXYZ-1234 at https://login.example/device", UserCode: "WXYZ-1234",
		VerificationURL: "https://login.example/device", ExpiresAt: time.Now().Add(15 * time.Minute)})
	return f.wait(ctx)
}

func (f *fakeAuth) wait(ctx context.Context) (Account, error) {
	select {
	case <-f.approve:
	case <-ctx.Done():
		return Account{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := alice
	f.acct = &a
	f.loggedIn++
	return a, nil
}

func (f *fakeAuth) Account(ctx context.Context) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expired {
		return Account{}, failure.SignInExpired
	}
	if f.acct == nil {
		return Account{}, failure.SignedOut
	}
	return *f.acct, nil
}

func (f *fakeAuth) Logout(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acct = nil
	return nil
}

func (f *fakeAuth) signedIn() *fakeAuth {
	a := alice
	f.acct = &a
	return f
}

// fakeDirectory serves alice's drives as the demo seed has them.
type fakeDirectory struct {
	mu      sync.Mutex
	offline bool
}

var (
	oneDrive  = RemoteDrive{ID: "b!alice", Name: "OneDrive", Kind: "onedrive"}
	financeLb = RemoteDrive{ID: "b!finance-docs", Name: "Finance - Documents", Kind: "sharepoint", SiteURL: "https://contoso.sharepoint.com/sites/Finance", Library: "Documents"}
	marketing = RemoteDrive{ID: "b!marketing", Name: "Marketing", Kind: "team", SiteURL: "https://contoso.sharepoint.com/sites/Marketing", Library: "Documents"}
)

func (f *fakeDirectory) Discover(ctx context.Context) ([]RemoteDrive, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offline {
		return nil, failure.Offline
	}
	return []RemoteDrive{oneDrive, financeLb, marketing}, nil
}

func (f *fakeDirectory) Resolve(ctx context.Context, t apitype.Target) (RemoteDrive, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offline {
		return RemoteDrive{}, failure.Offline
	}
	switch {
	case t.Kind == apitype.TargetOneDrive:
		return oneDrive, nil
	case t.SiteURL == financeLb.SiteURL:
		return financeLb, nil
	case t.SiteURL == marketing.SiteURL:
		return marketing, nil
	}
	return RemoteDrive{}, failure.NotFound
}

// fakeMounter records mounts; its mounts report a transfer.
type fakeMounter struct {
	mu      sync.Mutex
	mounts  map[string]*fakeMount // by mountpoint
	specs   []MountSpec
	cleaned []string // mountpoints passed to CleanStale
	// mountErr, when set, is what every Mount returns (a missing FUSE
	// driver, say).
	mountErr error
}

type fakeMount struct {
	mu      sync.Mutex
	spec    MountSpec
	paused  bool
	pins    map[string]bool
	stats   MountStats
	unmount int
	wakes   int // WakeUploads calls
	// unmountErr is what Unmount returns (after counting the call).
	unmountErr error
}

func (m *fakeMounter) Mount(ctx context.Context, spec MountSpec) (Mount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mountErr != nil {
		return nil, fmt.Errorf("mount: %w", m.mountErr)
	}
	if m.mounts == nil {
		m.mounts = map[string]*fakeMount{}
	}
	fm := &fakeMount{spec: spec, pins: map[string]bool{}, stats: MountStats{Online: true, CacheBytes: 4096}}
	m.mounts[spec.Mountpoint] = fm
	m.specs = append(m.specs, spec)
	return fm, nil
}

// CleanStale implements StaleCleaner: it records the mountpoint.
func (m *fakeMounter) CleanStale(ctx context.Context, mp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleaned = append(m.cleaned, mp)
	return nil
}

func (m *fakeMounter) get(mp string) *fakeMount {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mounts[mp]
}

func (m *fakeMount) Unmount(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unmount++
	return m.unmountErr
}
func (m *fakeMount) Stats() MountStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}
func (m *fakeMount) Pin(ctx context.Context, path string, pinned bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pins[path] = pinned
	return nil
}
func (m *fakeMount) SetUploadsPaused(p bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.paused = p
	return nil
}
func (m *fakeMount) WakeUploads() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wakes++
}

// leaseService signs real leases, as mapdrive-service does.
type leaseService struct {
	mu       sync.Mutex
	pub      ed25519.PublicKey
	priv     ed25519.PrivateKey
	refuse   string
	mappings []apitype.Mapping
	policies apitype.Policies
	srv      *httptest.Server
}

var financeMapping = apitype.Mapping{ID: "map-finance", DisplayName: "Finance", MountName: "Finance", DriveLetter: "F",
	OfflinePin: apitype.PinAllowed,
	Target:     apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance", LibraryName: "Documents"}}

func newLeaseService(t *testing.T) *leaseService {
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := &leaseService{pub: pub, priv: priv, mappings: []apitype.Mapping{financeMapping}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// unassign removes the mapping with id, as an admin does in the portal.
func (s *leaseService) unassign(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mappings = slices.DeleteFunc(s.mappings, func(m apitype.Mapping) bool { return m.ID == id })
}

// assign adds a mapping, as an admin does in the portal.
func (s *leaseService) assign(m apitype.Mapping) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mappings = append(s.mappings, m)
}

func (s *leaseService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case apitype.RouteServiceLeaseKey:
		json.NewEncoder(w).Encode(apitype.LeaseKey{Alg: "Ed25519", PublicKey: lease.EncodePublicKey(s.pub)})
	case apitype.RouteServiceValidate:
		if s.refuse != "" {
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(apitype.ServiceProblem{Status: 403, Code: s.refuse, Detail: "all 25 seats are in use"})
			return
		}
		dg := apitype.MappingsDigest(s.mappings)
		tok, _ := lease.Sign(s.priv, lease.New("tid", "seat", dg, time.Now()))
		json.NewEncoder(w).Encode(apitype.ValidateResponse{Lease: tok, Mappings: s.mappings, MappingsDigest: dg, Policies: s.policies})
	default:
		http.NotFound(w, r)
	}
}
