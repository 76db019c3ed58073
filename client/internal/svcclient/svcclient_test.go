package svcclient

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// fakeService signs real leases with its own key, as mapdrive-service does.
type fakeService struct {
	mu       sync.Mutex
	priv     ed25519.PrivateKey
	pub      ed25519.PublicKey
	signWith ed25519.PrivateKey // when set, leases are signed with this key instead
	userHash string             // the leases' user binding
	refuse   string             // when set, /v1/validate answers 403 with this code
	mappings []apitype.Mapping
	now      time.Time
	calls    int
}

func newFakeService(t *testing.T, now time.Time) *fakeService {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeService{priv: priv, pub: pub, now: now, mappings: []apitype.Mapping{
		{ID: "m1", DisplayName: "Finance", MountName: "Finance", DriveLetter: "F",
			Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance", LibraryName: "Documents"}},
	}}
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch r.URL.Path {
	case apitype.RouteServiceLeaseKey:
		json.NewEncoder(w).Encode(apitype.LeaseKey{Alg: "Ed25519", KeyID: lease.KeyID(f.pub), PublicKey: lease.EncodePublicKey(f.pub)})
	case apitype.RouteServiceValidate:
		if r.Header.Get("Authorization") != "Bearer good-token" {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(apitype.ServiceProblem{Status: 401, Code: apitype.ServiceCodeUnauthenticated, Detail: "token expired"})
			return
		}
		if f.refuse != "" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(403)
			json.NewEncoder(w).Encode(apitype.ServiceProblem{Status: 403, Code: f.refuse, Detail: "25 of 25 seats used"})
			return
		}
		key := f.priv
		if f.signWith != nil {
			key = f.signWith
		}
		dg := apitype.MappingsDigest(f.mappings)
		l := lease.New("tid", "seat", dg, f.now)
		l.UserHash = f.userHash
		tok, err := lease.Sign(key, l)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(apitype.ValidateResponse{Lease: tok, TenantID: "tid", Mappings: f.mappings, MappingsDigest: dg})
	default:
		http.NotFound(w, r)
	}
}

type rig struct {
	svc   *fakeService
	srv   *httptest.Server
	c     *Client
	dir   string
	clock *time.Time
}

func newRig(t *testing.T) *rig {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := &rig{svc: newFakeService(t, now), dir: t.TempDir(), clock: &now}
	r.srv = httptest.NewServer(r.svc)
	t.Cleanup(r.srv.Close)
	c, err := New(Options{
		BaseURL: r.srv.URL, HTTP: r.srv.Client(), StateDir: r.dir,
		Token: func(context.Context) (string, error) { return "good-token", nil },
		Now:   func() time.Time { return *r.clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

func TestFreshThenOffline(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	res, err := r.c.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if res.Cached || len(res.Mappings) != 1 || res.Mappings[0].DisplayName != "Finance" {
		t.Fatalf("Fetch = %+v, want a fresh result with Finance", res)
	}
	for _, name := range []string{"lease.json", "lease-key.pub"} {
		fi, err := os.Stat(filepath.Join(r.dir, name))
		if err != nil {
			t.Fatalf("%s not stored: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
		}
	}

	// The service goes down: the stored lease carries on.
	r.srv.Close()
	*r.clock = r.clock.Add(6 * 24 * time.Hour)
	res, err = r.c.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch with the service down, lease valid: %v", err)
	}
	if !res.Cached || !errors.Is(res.Reason, ErrUnreachable) || len(res.Mappings) != 1 {
		t.Errorf("Fetch offline = %+v, want the cached Finance mapping with an unreachable reason", res)
	}

	// Past the lease's 7 days: a clear refusal.
	*r.clock = r.clock.Add(2 * 24 * time.Hour)
	_, err = r.c.Fetch(ctx)
	if !errors.Is(err, ErrLeaseExpired) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Fetch offline after expiry = %v, want ErrLeaseExpired and ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "expired") {
		t.Errorf("error %q does not say the lease expired", err)
	}
}

func TestTamperedStoredLease(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(s *stored)
	}{
		{"mapping changed", func(s *stored) { s.Mappings[0].Target.SiteURL = "https://evil.example/sites/X" }},
		{"mapping added", func(s *stored) { s.Mappings = append(s.Mappings, apitype.Mapping{ID: "m2"}) }},
		{"signature flipped", func(s *stored) {
			b := []byte(s.Lease)
			i := len(b) - 5
			b[i] ^= 1
			if b[i] == '-' || b[i] == '_' || b[i] < '0' {
				b[i] = 'A'
			}
			s.Lease = string(b)
		}},
		{"payload re-encoded with longer expiry", func(s *stored) {
			parts := strings.Split(s.Lease, ".")
			parts[1] = "eyJ0aWQiOiJ0aWQiLCJzayI6InNlYXQiLCJpYXQiOjEsImV4cCI6OTk5OTk5OTk5OSwibWRnIjoiIn0"
			s.Lease = strings.Join(parts, ".")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			if _, err := r.c.Fetch(context.Background()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(r.dir, "lease.json")
			data, _ := os.ReadFile(path)
			var s stored
			json.Unmarshal(data, &s)
			tt.tamper(&s)
			data, _ = json.Marshal(s)
			os.WriteFile(path, data, 0o600)
			r.srv.Close()
			_, err := r.c.Fetch(context.Background())
			if !errors.Is(err, ErrLeaseInvalid) {
				t.Errorf("Fetch with a tampered stored lease = %v, want ErrLeaseInvalid", err)
			}
		})
	}
}

func TestBadSignatureFromService(t *testing.T) {
	r := newRig(t)
	if _, err := r.c.Fetch(context.Background()); err != nil { // pins the real key
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	r.svc.mu.Lock()
	r.svc.signWith = other
	r.svc.mu.Unlock()
	_, err := r.c.Fetch(context.Background())
	if !errors.Is(err, ErrLeaseInvalid) || !errors.Is(err, lease.ErrUnknownKey) {
		t.Errorf("Fetch of a lease signed by another key = %v, want ErrLeaseInvalid wrapping ErrUnknownKey", err)
	}
}

// TestLeaseOfAnotherAccountRefused: the lease names the user it was
// granted to; a lease for someone else (a stored one after another user
// signed in on the machine, or one a service hands out by mistake) is
// refused, fresh or stored.
func TestLeaseOfAnotherAccountRefused(t *testing.T) {
	r := newRig(t)
	who := struct{ tid, oid string }{"tid", "oid-alice"}
	r.c.o.Account = func(context.Context) (string, string, error) { return who.tid, who.oid, nil }
	r.svc.mu.Lock()
	r.svc.userHash = lease.UserHash("tid", "oid-alice")
	r.svc.mu.Unlock()
	if _, err := r.c.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch as alice: %v", err)
	}
	who.oid = "oid-bob"
	if _, err := r.c.Cached(); !errors.Is(err, ErrLeaseInvalid) {
		t.Errorf("alice's stored lease with bob signed in = %v, want ErrLeaseInvalid", err)
	}
	if _, err := r.c.Fetch(context.Background()); !errors.Is(err, ErrLeaseInvalid) {
		t.Errorf("a fresh lease for alice with bob signed in = %v, want ErrLeaseInvalid", err)
	}
	who.tid, who.oid = "other-tenant", "oid-alice"
	if _, err := r.c.Cached(); !errors.Is(err, ErrLeaseInvalid) {
		t.Errorf("a stored lease of another tenant = %v, want ErrLeaseInvalid", err)
	}
}

// TestTwoConfiguredKeys: while the service's key is rotated, lease_key
// lists both; leases of either are accepted. The separators are those
// documented for the config file, the ADMX and the MSI's LEASEKEY.
func TestTwoConfiguredKeys(t *testing.T) {
	for _, sep := range []string{", ", ",", ";", "; ", " ", "\n"} {
		t.Run(strconv.Quote(sep), func(t *testing.T) {
			r := newRig(t)
			next, nextPriv, _ := ed25519.GenerateKey(nil)
			r.c.o.LeaseKey = lease.EncodePublicKey(r.svc.pub) + sep + lease.EncodePublicKey(next)
			if _, err := r.c.Fetch(context.Background()); err != nil {
				t.Fatalf("Fetch signed by the first key: %v", err)
			}
			r.svc.mu.Lock()
			r.svc.signWith = nextPriv
			r.svc.mu.Unlock()
			if _, err := r.c.Fetch(context.Background()); err != nil {
				t.Fatalf("Fetch signed by the second key: %v", err)
			}
		})
	}
}

func TestConfiguredKeyWins(t *testing.T) {
	r := newRig(t)
	other, _, _ := ed25519.GenerateKey(nil)
	r.c.o.LeaseKey = lease.EncodePublicKey(other)
	_, err := r.c.Fetch(context.Background())
	if !errors.Is(err, ErrLeaseInvalid) || !errors.Is(err, lease.ErrUnknownKey) {
		t.Errorf("Fetch with a configured key that is not the service's = %v, want ErrLeaseInvalid wrapping ErrUnknownKey", err)
	}
	// The message names the lease's key and the pinned one by key id.
	for _, want := range []string{"the lease names key " + lease.KeyID(r.svc.pub), "the pinned lease_key is " + lease.KeyID(other)} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	r.c.o.LeaseKey = lease.EncodePublicKey(r.svc.pub)
	if _, err := r.c.Fetch(context.Background()); err != nil {
		t.Errorf("Fetch with the right configured key: %v", err)
	}
}

func TestRefusalAndErrors(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.c.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	r.svc.mu.Lock()
	r.svc.refuse = apitype.ServiceCodeSeatsExhausted
	r.svc.mu.Unlock()
	_, err := r.c.Fetch(ctx)
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != apitype.ServiceCodeSeatsExhausted {
		t.Fatalf("Fetch refused = %v, want a RefusedError seatsExhausted", err)
	}
	if !strings.Contains(err.Error(), "every Mapdrive seat") {
		t.Errorf("refusal message %q does not say why", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "lease.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stored lease kept after a refusal (stat: %v)", err)
	}
	// With nothing stored and the service gone: ErrNoLease.
	r.srv.Close()
	if _, err := r.c.Fetch(ctx); !errors.Is(err, ErrNoLease) {
		t.Errorf("Fetch offline with nothing stored = %v, want ErrNoLease", err)
	}
}

func TestUnauthenticated(t *testing.T) {
	r := newRig(t)
	r.c.o.Token = func(context.Context) (string, error) { return "stale", nil }
	if _, err := r.c.Fetch(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Fetch with a rejected token = %v, want ErrUnauthenticated", err)
	}
}
