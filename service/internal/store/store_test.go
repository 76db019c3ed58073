package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

const (
	tidA   = "7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77"
	tidB   = "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e"
	groupF = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
)

// Plaintext that must never appear in the database.
var secrets = []string{"Contoso Ltd", "contoso.com", "contoso.onmicrosoft.com", "sharepoint.com/sites/Finance",
	"Quarterly Reports Lib", "Finance Docs", "b!driveid-xyz", groupF, "FinanceMount", "Fabrikam Inc", "fabrikam.com", "Closing Pack 2026"}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type fixture struct {
	db    testenv.DB
	st    *Store
	kek   *crypto.LocalKEK
	clock *clock
	dir   string
}

func open(t *testing.T, db testenv.DB) *fixture {
	t.Helper()
	dir := t.TempDir()
	kek, err := crypto.OpenLocalKEK(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	st, err := Open(context.Background(), db.Addr, kek, quietLog(), Options{Migrate: true, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{db: db, st: st, kek: kek, clock: c, dir: dir}
}

func contoso(c *clock) Tenant {
	return Tenant{ID: tidA, DisplayName: "Contoso Ltd", Domains: []string{"contoso.com", "Contoso.onmicrosoft.com"}, Seats: 2, LicenceExpires: c.now().AddDate(1, 0, 0)}
}

func financeMapping() Mapping {
	return Mapping{Mapping: apitype.Mapping{DisplayName: "Finance Docs", DriveLetter: "f:", MountName: "FinanceMount",
		Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance", LibraryName: "Quarterly Reports Lib",
			FolderPath: "Closing Pack 2026/Board/"}},
		Groups: []string{groupF}}
}

// each runs f on SQLite and PostgreSQL.
func each(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) { f(t, open(t, db)) })
	}
}

func (fx *fixture) assertNoPlaintext(t *testing.T, step string) {
	t.Helper()
	testenv.AssertAbsent(t, fx.db.Name+" after "+step, fx.db.Raw(t), secrets...)
}

func TestLifecycleLeavesNoPlaintext(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		fx.assertNoPlaintext(t, "PutTenant")
		testenv.MustContain(t, "raw database", fx.db.Raw(t), tidA) // the scan sees rows
		fab := Tenant{ID: tidB, DisplayName: "Fabrikam Inc", Domains: []string{"fabrikam.com"}, Seats: 1, LicenceExpires: fx.clock.now().AddDate(0, 1, 0)}
		if err := st.PutTenant(ctx, fab); err != nil {
			t.Fatal(err)
		}
		got, err := st.Tenant(ctx, tidA)
		if err != nil || got.DisplayName != "Contoso Ltd" || len(got.Domains) != 2 || got.Domains[1] != "contoso.onmicrosoft.com" {
			t.Fatalf("Tenant = %+v, %v", got, err)
		}
		if id, err := st.TenantIDByDomain(ctx, " CONTOSO.com"); err != nil || id != tidA {
			t.Errorf("TenantIDByDomain = %q, %v", id, err)
		}
		if _, err := st.TenantIDByDomain(ctx, "evil.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("TenantIDByDomain(unknown) = %v", err)
		}
		// A domain can belong to one tenant only.
		steal := Tenant{ID: "11111111-2222-4333-8444-555555555555", DisplayName: "x", Domains: []string{"contoso.com"}, Seats: 1}
		if err := st.PutTenant(ctx, steal); !errors.Is(err, ErrConflict) {
			t.Errorf("PutTenant(stolen domain) = %v, want ErrConflict", err)
		}

		m, err := st.CreateMapping(ctx, tidA, financeMapping())
		if err != nil {
			t.Fatal(err)
		}
		fx.assertNoPlaintext(t, "CreateMapping")
		if m.DriveLetter != "F" || m.OfflinePin != apitype.PinAllowed || m.Target.FolderPath != "/Closing Pack 2026/Board" {
			t.Errorf("normalized mapping = %+v", m)
		}
		m2, err := st.CreateMapping(ctx, tidA, Mapping{Mapping: apitype.Mapping{DisplayName: "Home", DriveLetter: "H",
			Target: apitype.Target{Kind: apitype.TargetDriveID, DriveID: "b!driveid-xyz"}}, Everyone: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateMapping(ctx, tidA, Mapping{Mapping: apitype.Mapping{DisplayName: "Dup", DriveLetter: "F", Target: apitype.Target{Kind: apitype.TargetOneDrive}}}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate drive letter = %v, want ErrConflict", err)
		}
		m.ReadOnly = true
		m.Target.LibraryName = "Quarterly Reports Lib"
		if _, err := st.UpdateMapping(ctx, tidA, m); err != nil {
			t.Fatal(err)
		}
		fx.assertNoPlaintext(t, "UpdateMapping")
		if err := st.ReorderMappings(ctx, tidA, []string{m2.ID, m.ID}); err != nil {
			t.Fatal(err)
		}
		if err := st.ReorderMappings(ctx, tidA, []string{m2.ID}); !errors.Is(err, ErrInvalid) {
			t.Errorf("partial reorder = %v", err)
		}
		ms, err := st.Mappings(ctx, tidA)
		if err != nil || len(ms) != 2 || ms[0].ID != m2.ID || !ms[1].ReadOnly || ms[1].Target.SiteURL != "https://contoso.sharepoint.com/sites/Finance" || ms[1].Groups[0] != groupF {
			t.Fatalf("Mappings = %+v, %v", ms, err)
		}
		// Tenant isolation: tenant B cannot see, change or delete A's mapping.
		if _, err := st.Mapping(ctx, tidB, m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Mapping(other tenant) = %v", err)
		}
		if _, err := st.UpdateMapping(ctx, tidB, m); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateMapping(other tenant) = %v", err)
		}
		if err := st.DeleteMapping(ctx, tidB, m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteMapping(other tenant) = %v", err)
		}
		cfg, err := st.Config(ctx, tidA)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.MappingsFor(nil); len(got) != 1 || got[0].ID != m2.ID {
			t.Errorf("MappingsFor(no groups) = %+v", got)
		}
		if got := cfg.MappingsFor([]string{"0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"}); len(got) != 2 {
			t.Errorf("MappingsFor(finance) = %d mappings", len(got))
		}
		if !cfg.HasDomain("Contoso.com") || cfg.HasDomain("fabrikam.com") {
			t.Error("HasDomain wrong")
		}
		if err := st.SetPolicies(ctx, tidA, apitype.Policies{DeltaPollSeconds: 30, MinClientVersion: "0.2.0", DefaultCacheLimitBytes: 1 << 30}); err != nil {
			t.Fatal(err)
		}
		if err := st.TouchSeat(ctx, tidA, "seat-1", 2); err != nil {
			t.Fatal(err)
		}
		if err := st.Audit(ctx, tidA, "actor-x", "mapping.create", m.ID); err != nil {
			t.Fatal(err)
		}
		fx.assertNoPlaintext(t, "seats and audit")

		// Key rotation: new KEK, re-wrap, then rotate data keys and re-encrypt.
		if err := fx.kek.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := st.RewrapKeys(ctx); err != nil || n < 3 {
			t.Fatalf("RewrapKeys = %d, %v", n, err)
		}
		res, err := st.Reencrypt(ctx, tidA, 1)
		if err != nil || res.Version != 2 || res.Rows < 6 || res.StillOnOlder != 0 {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}
		// A replica still on the old key writes meanwhile; retiring
		// re-encrypts that row before destroying the old key.
		k1, err := st.keyVersion(ctx, st.db, tidA, 1)
		if err != nil {
			t.Fatal(err)
		}
		late := newID()
		lateRow := domainRow{ID: late, TenantID: tidA, BlindIndex: "late", KeyVersion: 1}
		lateRow.DomainEnc, _ = k1.Seal([]byte("late.contoso.com"), crypto.Cell{Tenant: tidA, Table: "tenant_domains", Column: "domain", Row: late})
		if err := st.db.Create(&lateRow).Error; err != nil {
			t.Fatal(err)
		}
		st.cfg.evict(tidA)
		res, err = st.RetireOldKeys(ctx, tidA, 10)
		if err != nil || res.Rows != 1 || res.KeysRetired != 1 || res.StillOnOlder != 0 {
			t.Fatalf("RetireOldKeys = %+v, %v", res, err)
		}
		if tt, err := st.Tenant(ctx, tidA); err != nil || len(tt.Domains) != 3 {
			t.Fatalf("tenant after retiring = %+v, %v", tt, err)
		}
		fx.assertNoPlaintext(t, "re-encryption")
		if ms, err := st.Mappings(ctx, tidA); err != nil || len(ms) != 2 || ms[1].Target.LibraryName != "Quarterly Reports Lib" ||
			ms[1].Target.FolderPath != "/Closing Pack 2026/Board" || ms[0].Target.FolderPath != "" {
			t.Fatalf("Mappings after reencrypt = %+v, %v", ms, err)
		}
		// A second process with the same KEK file reads everything back.
		st2, err := Open(ctx, fx.db.Addr, must(crypto.OpenLocalKEK(filepath.Join(fx.dir, "kek.json"))), quietLog(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		if tt, err := st2.Tenant(ctx, tidA); err != nil || tt.DisplayName != "Contoso Ltd" {
			t.Errorf("Tenant via second store = %+v, %v", tt, err)
		}
		if st2.Secrets().SeatKey(tidA, "o") != st.Secrets().SeatKey(tidA, "o") {
			t.Error("replicas derive different seat keys")
		}

		exp, err := st.Export(ctx, tidA)
		if err != nil || len(exp.Mappings) != 2 || len(exp.Seats) != 1 || len(exp.Audit) != 1 || exp.Tenant.DisplayName != "Contoso Ltd" {
			t.Fatalf("Export = %+v, %v", exp, err)
		}

		if err := st.DeleteMapping(ctx, tidA, m.ID); err != nil {
			t.Fatal(err)
		}
		// Crypto-shredding.
		if err := st.DeleteTenant(ctx, tidA); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Tenant(ctx, tidA); !errors.Is(err, ErrNotFound) {
			t.Errorf("Tenant after delete = %v", err)
		}
		if _, err := st.keyVersion(ctx, st.db, tidA, 2); !errors.Is(err, ErrNotFound) {
			t.Errorf("data key after delete = %v, want ErrNotFound", err)
		}
		var n int64
		for _, tbl := range []string{"tenant_keys", "mappings", "mapping_assignments", "tenant_domains", "seats", "audit_log"} {
			st.db.Table(tbl).Where("tenant_id = ?", tidA).Count(&n)
			if n != 0 {
				t.Errorf("%s keeps %d rows of the deleted tenant", tbl, n)
			}
		}
		if _, err := st.Tenant(ctx, tidB); err != nil {
			t.Errorf("other tenant damaged by delete: %v", err)
		}
		fx.assertNoPlaintext(t, "delete")
	})
}

func TestSeats(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b", "a"} {
			if err := st.TouchSeat(ctx, tidA, k, 2); err != nil {
				t.Fatalf("TouchSeat(%s) = %v", k, err)
			}
		}
		if err := st.TouchSeat(ctx, tidA, "c", 2); !errors.Is(err, ErrSeatsExhausted) {
			t.Fatalf("third seat = %v, want ErrSeatsExhausted", err)
		}
		fx.clock.add(20 * 24 * time.Hour)
		if err := st.TouchSeat(ctx, tidA, "a", 2); err != nil { // a stays active
			t.Fatal(err)
		}
		fx.clock.add(11 * 24 * time.Hour) // b unused for 31 days: released
		if n, _ := st.SeatsUsed(ctx, tidA); n != 1 {
			t.Errorf("SeatsUsed = %d, want 1", n)
		}
		if err := st.TouchSeat(ctx, tidA, "c", 2); err != nil {
			t.Fatalf("seat after release = %v", err)
		}
		if n, err := st.ReleaseStaleSeats(ctx); err != nil || n != 1 {
			t.Errorf("ReleaseStaleSeats = %d, %v", n, err)
		}
		// Concurrent admissions never exceed the licence.
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- st.TouchSeat(ctx, tidA, "n"+string(rune('0'+i)), 4)
			}()
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, ErrSeatsExhausted) {
				t.Errorf("TouchSeat = %v", err)
			}
		}
		if n, _ := st.SeatsUsed(ctx, tidA); n != 4 || ok != 2 {
			t.Errorf("after a concurrent burst: %d seats used, %d admitted; want 4 and 2", n, ok)
		}
	})
}

func TestReencryptResumes(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"G", "H", "I"} {
			m := financeMapping()
			m.DriveLetter, m.MountName = l, ""
			if _, err := st.CreateMapping(ctx, tidA, m); err != nil {
				t.Fatal(err)
			}
		}
		// An interrupted run: version 2 exists and one batch of one table
		// was re-encrypted before the crash.
		if err := st.newTenantKey(ctx, st.db, tidA, 2); err != nil {
			t.Fatal(err)
		}
		k2, err := st.keyVersion(ctx, st.db, tidA, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := st.reencryptBatch(ctx, encTables[2], tidA, k2, 1); err != nil || n != 1 {
			t.Fatalf("reencryptBatch = %d, %v", n, err)
		}
		res, err := st.Reencrypt(ctx, tidA, 2)
		if err != nil || res.Version != 2 || res.StillOnOlder != 0 {
			t.Fatalf("resumed Reencrypt = %+v, %v (want version 2)", res, err)
		}
		if res, err := st.RetireOldKeys(ctx, tidA, 2); err != nil || res.KeysRetired != 1 {
			t.Fatalf("RetireOldKeys = %+v, %v", res, err)
		}
		if ms, err := st.Mappings(ctx, tidA); err != nil || len(ms) != 3 {
			t.Fatalf("Mappings = %d, %v", len(ms), err)
		}
		fx.assertNoPlaintext(t, "resumed re-encryption")
	})
}

func TestBackupRestore(t *testing.T) {
	fx := open(t, testenv.SQLite(t))
	ctx := context.Background()
	if err := fx.st.PutTenant(ctx, contoso(fx.clock)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.st.CreateMapping(ctx, tidA, financeMapping()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fx.dir, "backups")
	old := filepath.Join(dir, "mapdrive-20260901T000000.000000000Z.db")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(old, []byte("old"), 0o600)
	path, removed, err := fx.st.Backup(ctx, dir, BackupRetention)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 {
		t.Errorf("removed = %v, want the September backup", removed)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("backup older than 30 days kept")
	}
	b, _ := os.ReadFile(path)
	testenv.AssertAbsent(t, "backup", b, secrets...)
	sum, err := VerifyBackup(ctx, path, fx.kek, quietLog())
	if err != nil || sum.Tenants != 1 || sum.Mappings != 1 || sum.SchemaVersion != SchemaVersion() {
		t.Fatalf("VerifyBackup = %+v, %v", sum, err)
	}
	// Without the KEK the backup is unreadable.
	other, _ := crypto.OpenLocalKEK(filepath.Join(t.TempDir(), "other.json"))
	if _, err := VerifyBackup(ctx, path, other, quietLog()); err == nil {
		t.Error("backup verified with another KEK")
	}
}

func TestOpenRefusesOldSchema(t *testing.T) {
	db := testenv.SQLite(t)
	kek, _ := crypto.OpenLocalKEK(filepath.Join(t.TempDir(), "k.json"))
	if _, err := Open(context.Background(), db.Addr, kek, quietLog(), Options{}); err == nil {
		t.Fatal("Open without migrations succeeded on an empty database")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestGuardRefusesPlaintext tries the gorm paths that could bypass the
// sealer; each must fail, and the plaintext must not reach the database.
func TestGuardRefusesPlaintext(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		m, err := st.CreateMapping(ctx, tidA, financeMapping())
		if err != nil {
			t.Fatal(err)
		}
		leak := "https://contoso.sharepoint.com/sites/Finance-LEAK"
		db := st.db.WithContext(ctx)
		for name, f := range map[string]func() error{
			"Update(col)": func() error { return db.Model(&mappingRow{}).Where("id = ?", m.ID).Update("site_url_enc", leak).Error },
			"Update(col, bytes)": func() error {
				return db.Model(&mappingRow{}).Where("id = ?", m.ID).Update("site_url_enc", []byte(leak)).Error
			},
			"Updates(map)": func() error {
				return db.Model(&mappingRow{}).Where("id = ?", m.ID).Updates(map[string]any{"site_url_enc": []byte(leak)}).Error
			},
			"Updates(struct)": func() error {
				return db.Model(&mappingRow{}).Where("id = ?", m.ID).Updates(&mappingRow{SiteURLEnc: []byte(leak)}).Error
			},
			"Save": func() error { return db.Save(&mappingRow{ID: m.ID, TenantID: tidA, SiteURLEnc: []byte(leak)}).Error },
			"Create": func() error {
				return db.Create(&mappingRow{ID: newID(), TenantID: tidA, SiteURLEnc: []byte(leak)}).Error
			},
			"Create(map)": func() error {
				return db.Model(&mappingRow{}).Create(map[string]any{"id": newID(), "site_url_enc": []byte(leak)}).Error
			},
			"Table().Updates map": func() error {
				return db.Table("mappings").Where("id = ?", m.ID).Updates(map[string]any{"site_url_enc": leak}).Error
			},
		} {
			if err := f(); err == nil {
				t.Errorf("%s with plaintext succeeded", name)
			}
		}
		testenv.AssertAbsent(t, fx.db.Name, fx.db.Raw(t), "Finance-LEAK")
		if got, err := st.Mapping(ctx, tidA, m.ID); err != nil || got.Target.SiteURL != "https://contoso.sharepoint.com/sites/Finance" {
			t.Errorf("mapping after refused writes = %+v, %v", got, err)
		}
	})
}

func TestSeatUsage(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		st.TouchSeat(ctx, tidA, "a", 2)
		if err := st.RecordSeatUsage(ctx); err != nil {
			t.Fatal(err)
		}
		st.TouchSeat(ctx, tidA, "b", 2)
		if err := st.RecordSeatUsage(ctx); err != nil { // same day: overwritten
			t.Fatal(err)
		}
		fx.clock.add(24 * time.Hour)
		if err := st.RecordSeatUsage(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := st.SeatUsage(ctx, tidA, 30)
		if err != nil || len(got) != 2 || got[0].Used != 2 || got[0].Day != "2026-11-01" || got[1].Day != "2026-11-02" {
			t.Errorf("SeatUsage = %+v, %v", got, err)
		}
		if got, _ := st.SeatUsage(ctx, tidA, 0); len(got) != 0 {
			t.Errorf("SeatUsage(0 days) = %+v", got)
		}
	})
}

// TestMappingFolderPathBeforeMigration8 reads and re-encrypts a mapping
// written before migration 8 added folder_path_enc: its NULL is the whole
// library, and re-encryption leaves it NULL rather than failing on it.
func TestMappingFolderPathBeforeMigration8(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		m, err := st.CreateMapping(ctx, tidA, financeMapping())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.db.Exec("UPDATE mappings SET folder_path_enc = NULL WHERE id = ?", m.ID).Error; err != nil {
			t.Fatal(err)
		}
		got, err := st.Mapping(ctx, tidA, m.ID)
		if err != nil || got.Target.FolderPath != "" || got.Target.LibraryName != "Quarterly Reports Lib" {
			t.Fatalf("Mapping(row without folder) = %+v, %v; want the whole library", got.Target, err)
		}
		if res, err := st.Reencrypt(ctx, tidA, 10); err != nil || res.StillOnOlder != 0 {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}
		var n int64
		st.db.Table("mappings").Where("id = ? AND folder_path_enc IS NULL", m.ID).Count(&n)
		if n != 1 {
			t.Errorf("re-encryption wrote a value into the NULL folder_path_enc")
		}
		if _, err := st.UpdateMapping(ctx, tidA, Mapping{Mapping: apitype.Mapping{ID: m.ID, DisplayName: "x", DriveLetter: "F",
			Target: apitype.Target{Kind: apitype.TargetOneDrive, FolderPath: "/a/../b"}}, Everyone: true}); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateMapping(folder with ..) = %v, want ErrInvalid", err)
		}
	})
}

// TestMappingExclusiveEditing stores and reads back the exclusive-editing
// option (migration 10): on when set, off again after an update, and off
// for a row written before the column existed (its default).
func TestMappingExclusiveEditing(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		m := financeMapping()
		m.ExclusiveEditing = true
		m, err := st.CreateMapping(ctx, tidA, m)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.Mapping(ctx, tidA, m.ID); err != nil || !got.ExclusiveEditing {
			t.Fatalf("Mapping after create = %+v, %v; want exclusive editing on", got.Mapping, err)
		}
		m.ExclusiveEditing = false
		if _, err := st.UpdateMapping(ctx, tidA, m); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Mapping(ctx, tidA, m.ID); err != nil || got.ExclusiveEditing {
			t.Fatalf("Mapping after turning it off = %+v, %v", got.Mapping, err)
		}
		other, err := st.CreateMapping(ctx, tidA, Mapping{Mapping: apitype.Mapping{DisplayName: "Home", DriveLetter: "H",
			Target: apitype.Target{Kind: apitype.TargetOneDrive}}, Everyone: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st.Mapping(ctx, tidA, other.ID); err != nil || got.ExclusiveEditing {
			t.Errorf("a mapping created without the option = %+v, %v", got.Mapping, err)
		}
	})
}

// TestCombinedMappingRoundTrip stores a combined drive (#17 item 1): its
// libraries come back in order, sealed at rest, survive re-encryption,
// and a bad set is refused.
func TestCombinedMappingRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st := fx.st
		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		members := []apitype.CombinedMember{
			{Name: "Finance", Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance/", LibraryName: "Documents"}},
			{Name: "Reports", Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Finance", LibraryName: "Quarterly Reports Lib", FolderPath: "Closing Pack 2026/"}},
			{Name: "My files", Target: apitype.Target{Kind: apitype.TargetOneDrive}},
		}
		m, err := st.CreateMapping(ctx, tidA, Mapping{Mapping: apitype.Mapping{DisplayName: "Company", DriveLetter: "S",
			Target: apitype.Target{Kind: apitype.TargetCombined, Members: members, SiteURL: "https://ignored.example"}}, Everyone: true})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string) {
			t.Helper()
			got, err := st.Mapping(ctx, tidA, m.ID)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			tg := got.Target
			if tg.Kind != apitype.TargetCombined || tg.SiteURL != "" || len(tg.Members) != 3 ||
				tg.Members[0].Target.SiteURL != "https://contoso.sharepoint.com/sites/Finance" ||
				tg.Members[1].Name != "Reports" || tg.Members[1].Target.FolderPath != "/Closing Pack 2026" ||
				tg.Members[2].Target.Kind != apitype.TargetOneDrive {
				t.Errorf("%s: target = %+v", what, tg)
			}
		}
		// The libraries' site URLs, names and folders are sealed too.
		fx.assertNoPlaintext(t, "CreateMapping(combined)")
		check("read back")
		var raw []byte
		st.db.Table("mappings").Where("id = ?", m.ID).Select("members_enc").Scan(&raw)
		if len(raw) == 0 || bytes.Contains(raw, []byte("Finance")) {
			t.Errorf("members_enc is empty or not sealed: %q", raw)
		}
		if res, err := st.Reencrypt(ctx, tidA, 10); err != nil || res.StillOnOlder != 0 {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}
		check("after re-encryption")

		many := make([]apitype.CombinedMember, apitype.MaxCombinedMembers+1)
		for i := range many {
			many[i] = apitype.CombinedMember{Name: fmt.Sprint("L", i), Target: apitype.Target{Kind: apitype.TargetOneDrive}}
		}
		one := func(name string, tg apitype.Target) []apitype.CombinedMember {
			return []apitype.CombinedMember{{Name: name, Target: tg}}
		}
		od := apitype.Target{Kind: apitype.TargetOneDrive}
		for what, ms := range map[string][]apitype.CombinedMember{
			"no library":           nil,
			"over the limit":       many,
			"a slash in a name":    one("a/b", od),
			"an empty name":        one(" ", od),
			"a name used twice":    append(one("Docs", od), one("DOCS", od)...),
			"a nested combination": one("X", apitype.Target{Kind: apitype.TargetCombined, Members: one("Y", od)}),
			"a bad library":        one("X", apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "http://insecure"}),
		} {
			bad := Mapping{Mapping: apitype.Mapping{ID: m.ID, DisplayName: "Company", DriveLetter: "S",
				Target: apitype.Target{Kind: apitype.TargetCombined, Members: ms}}, Everyone: true}
			if _, err := st.UpdateMapping(ctx, tidA, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("UpdateMapping(%s) = %v, want ErrInvalid", what, err)
			}
		}
		check("after refused updates")
	})
}
