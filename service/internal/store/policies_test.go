package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestPoliciesRoundTrip stores every policy field, reads it back through a
// fresh store (no cache), and refuses out-of-range values.
func TestPoliciesRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		if err := fx.st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		want := apitype.Policies{DeltaPollSeconds: 45, MinClientVersion: "0.2.0", DefaultCacheLimitBytes: 2 << 30,
			UploadBytesPerSecond: 20_000_000, DownloadBytesPerSecond: 35_500_000, RefreshSeconds: 900, StartJitterSeconds: 120,
			LinkScope: apitype.LinkScopeAnonymous}
		if err := fx.st.SetPolicies(ctx, tidA, want); err != nil {
			t.Fatal(err)
		}
		st2, err := Open(ctx, fx.db.Addr, fx.kek, quietLog(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		got, err := st2.Tenant(ctx, tidA)
		if err != nil || got.Policies != want {
			t.Fatalf("Tenant().Policies = %+v, %v, want %+v", got.Policies, err, want)
		}
		for name, bad := range map[string]func(*apitype.Policies){
			"negative upload":     func(p *apitype.Policies) { p.UploadBytesPerSecond = -1 },
			"negative download":   func(p *apitype.Policies) { p.DownloadBytesPerSecond = -1 },
			"refresh too short":   func(p *apitype.Policies) { p.RefreshSeconds = 59 },
			"refresh over a day":  func(p *apitype.Policies) { p.RefreshSeconds = 86401 },
			"negative jitter":     func(p *apitype.Policies) { p.StartJitterSeconds = -1 },
			"jitter over an hour": func(p *apitype.Policies) { p.StartJitterSeconds = 3601 },
			"unknown link scope":  func(p *apitype.Policies) { p.LinkScope = "everyone" },
		} {
			p := want
			bad(&p)
			if err := fx.st.SetPolicies(ctx, tidA, p); !errors.Is(err, ErrInvalid) {
				t.Errorf("SetPolicies(%s) = %v, want ErrInvalid", name, err)
			}
		}
	})
}

// TestMigrateFromSchema3 upgrades a database holding a tenant at schema 3
// (before the bandwidth, refresh and jitter columns): the tenant keeps its
// policies and gets no limit, the client's refresh and no jitter.
func TestMigrateFromSchema3(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			ctx := context.Background()
			kek, err := crypto.OpenLocalKEK(filepath.Join(t.TempDir(), "kek.json"))
			if err != nil {
				t.Fatal(err)
			}
			all := migrations
			migrations = all[:3]
			old, err := Open(ctx, db.Addr, kek, quietLog(), Options{Migrate: true})
			migrations = all
			if err != nil {
				t.Fatal(err)
			}
			// A v3 row, written as v3 code wrote it.
			if err := old.db.Create(&tenantRowV1{ID: tidA, Seats: 3, DeltaPollSeconds: 77, OfficeCoauthoring: true}).Error; err != nil {
				t.Fatal(err)
			}
			old.Close()
			st, err := Open(ctx, db.Addr, kek, quietLog(), Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if v, err := st.AppliedVersion(ctx); err != nil || v != SchemaVersion() {
				t.Fatalf("AppliedVersion = %d, %v, want %d", v, err, SchemaVersion())
			}
			var row tenantRow
			if err := st.db.Where("id = ?", tidA).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if row.DeltaPollSeconds != 77 || row.UploadBytesPerSec != 0 || row.DownloadBytesPerSec != 0 || row.RefreshSeconds != 0 || row.StartJitterSeconds != 0 {
				t.Errorf("migrated row = %+v", row)
			}
		})
	}
}

// TestMigrateFromSchema4 upgrades a tenant stored before the link scope
// policy: it gets "" (organization, the default), and a scope set later is
// kept.
func TestMigrateFromSchema4(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			ctx := context.Background()
			kek, err := crypto.OpenLocalKEK(filepath.Join(t.TempDir(), "kek.json"))
			if err != nil {
				t.Fatal(err)
			}
			all := migrations
			migrations = all[:4]
			old, err := Open(ctx, db.Addr, kek, quietLog(), Options{Migrate: true})
			migrations = all
			if err != nil {
				t.Fatal(err)
			}
			if err := old.db.Create(&tenantRowV1{ID: tidA, Seats: 3, DeltaPollSeconds: 77}).Error; err != nil {
				t.Fatal(err)
			}
			old.Close()
			st, err := Open(ctx, db.Addr, kek, quietLog(), Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var row tenantRow
			if err := st.db.Where("id = ?", tidA).Take(&row).Error; err != nil || row.LinkScope != "" || row.DeltaPollSeconds != 77 {
				t.Fatalf("migrated row = %+v, %v; want link scope \"\" (organization)", row, err)
			}
			if err := st.SetPolicies(ctx, tidA, apitype.Policies{DeltaPollSeconds: 77, LinkScope: apitype.LinkScopeNone}); err != nil {
				t.Fatal(err)
			}
			if err := st.db.Where("id = ?", tidA).Take(&row).Error; err != nil || row.LinkScope != apitype.LinkScopeNone {
				t.Errorf("after SetPolicies(none): %+v, %v", row, err)
			}
		})
	}
}
