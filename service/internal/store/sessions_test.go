package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
)

// testSession is a signed-in session of contoso's admin whose every
// sealed field is a value the raw scans look for.
func testSession(now time.Time) PortalSession {
	return PortalSession{TenantID: tidA, Actor: "actor-abc", Created: now, LastSeen: now, Expires: now.Add(30 * time.Minute),
		CSRF: "csrf-SECRET-0123456789", Next: "/portal/next-SECRET", Name: "Adele Vance SECRET", Domain: "contoso.com",
		Graph: SessionGraph{Access: "graph-access-SECRET-eyJ0", Refresh: "graph-refresh-SECRET", Expires: now.Add(time.Hour)},
		Flash: "Saved mapping Finance Docs"}
}

func countSessions(t *testing.T, st *Store, id string) int64 {
	t.Helper()
	var n int64
	if err := st.db.Model(&portalSessionRow{}).Where("id_hash = ?", sessionHash(id)).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPortalSessionSealed: a session reads back whole, and the raw
// database holds its id only as a hash and every other value of it only
// sealed, also after its Graph token and notice change. The gorm paths
// that skip the sealer (Update("col"), map Updates) are refused.
func TestPortalSessionSealed(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st, now := fx.st, fx.clock.now()
		id := "cookie-SECRET-value-0123456789abcdef"
		in := testSession(now)
		if err := st.CreatePortalSession(ctx, id, in, now, DefaultSessionLimits); err != nil {
			t.Fatal(err)
		}
		got, err := st.PortalSession(ctx, id, now)
		if err != nil || got.CSRF != in.CSRF || got.Graph.Refresh != in.Graph.Refresh || got.Flash != in.Flash || got.Name != in.Name ||
			got.Domain != in.Domain || got.Next != in.Next || got.Actor != in.Actor || !got.Expires.Equal(in.Expires) {
			t.Fatalf("PortalSession = %+v, %v; want %+v", got, err, in)
		}
		newGraph := SessionGraph{Access: "graph-access2-SECRET", Refresh: "graph-refresh2-SECRET", Expires: now.Add(2 * time.Hour)}
		if err := st.SetPortalSessionGraph(ctx, id, newGraph); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPortalSessionFlash(ctx, id, "Deleted mapping Quarterly Reports Lib"); err != nil {
			t.Fatal(err)
		}
		if f, err := st.TakePortalSessionFlash(ctx, id); err != nil || f != "Deleted mapping Quarterly Reports Lib" {
			t.Errorf("TakePortalSessionFlash = %q, %v", f, err)
		}
		if f, err := st.TakePortalSessionFlash(ctx, id); err != nil || f != "" {
			t.Errorf("second TakePortalSessionFlash = %q, %v, want it gone", f, err)
		}
		if got, _ := st.PortalSession(ctx, id, now); got.Graph != newGraph {
			t.Errorf("Graph after SetPortalSessionGraph = %+v", got.Graph)
		}

		q := func() *gorm.DB {
			return st.db.WithContext(ctx).Model(&portalSessionRow{}).Where("id_hash = ?", sessionHash(id))
		}
		leak := "graph-LEAK-token"
		for name, f := range map[string]func() error{
			"Update(col)":   func() error { return q().Update("graph_enc", leak).Error },
			"Updates(map)":  func() error { return q().Updates(map[string]any{"flash_enc": []byte(leak)}).Error },
			"Create(plain)": func() error { return st.db.Create(&portalSessionRow{IDHash: "x", SecretEnc: []byte(leak)}).Error },
		} {
			if err := f(); err == nil {
				t.Errorf("%s with plaintext succeeded", name)
			}
		}

		raw := fx.db.Raw(t)
		testenv.MustContain(t, fx.db.Name, raw, sessionHash(id))
		testenv.AssertAbsent(t, fx.db.Name, raw, id, tidA, in.CSRF, in.Next, in.Name, in.Graph.Access, in.Graph.Refresh,
			newGraph.Access, newGraph.Refresh, "Quarterly Reports Lib", "Finance Docs", leak)
	})
}

// TestPortalSessionBoundToRow: a sealed cell copied to another session's
// row does not open there.
func TestPortalSessionBoundToRow(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st, now := fx.st, fx.clock.now()
		for _, id := range []string{"one", "two"} {
			if err := st.CreatePortalSession(ctx, id, testSession(now), now, DefaultSessionLimits); err != nil {
				t.Fatal(err)
			}
		}
		var one portalSessionRow
		if err := st.db.Where("id_hash = ?", sessionHash("one")).Take(&one).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.db.Model(&portalSessionRow{}).Where("id_hash = ?", sessionHash("two")).Select("graph_enc").
			Updates(&portalSessionRow{GraphEnc: one.GraphEnc}).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := st.PortalSession(ctx, "two", now); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("a session with another row's Graph cell = %v, want a decryption error", err)
		}
	})
}

// TestPortalSessionExpiry: a session read at or after its expiry is
// ErrNotFound and deleted; the sweep and the next create delete every
// expired one; erasing a tenant deletes its sessions.
func TestPortalSessionExpiry(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		st, now := fx.st, fx.clock.now()
		for _, id := range []string{"read", "swept", "created-over", "tenant"} {
			if err := st.CreatePortalSession(ctx, id, testSession(now), now, DefaultSessionLimits); err != nil {
				t.Fatal(err)
			}
		}
		later := now.Add(30 * time.Minute)
		if _, err := st.PortalSession(ctx, "read", later.Add(-time.Second)); err != nil {
			t.Errorf("a session a second before its expiry: %v", err)
		}
		if _, err := st.PortalSession(ctx, "read", later); !errors.Is(err, ErrNotFound) {
			t.Errorf("a session at its expiry: %v, want ErrNotFound", err)
		}
		if n := countSessions(t, st, "read"); n != 0 {
			t.Errorf("the expired session read is still stored (%d rows)", n)
		}
		if n, err := st.SweepPortalSessions(ctx, later); err != nil || n != 3 {
			t.Errorf("SweepPortalSessions = %d, %v, want the 3 expired sessions", n, err)
		}
		if n := countSessions(t, st, "swept"); n != 0 {
			t.Errorf("the swept session is still stored (%d rows)", n)
		}

		// A create sweeps what expired before it.
		if err := st.CreatePortalSession(ctx, "old", testSession(now), now, DefaultSessionLimits); err != nil {
			t.Fatal(err)
		}
		fresh := testSession(later)
		if err := st.CreatePortalSession(ctx, "new", fresh, later, DefaultSessionLimits); err != nil {
			t.Fatal(err)
		}
		if n := countSessions(t, st, "old"); n != 0 {
			t.Errorf("the create did not sweep the expired session (%d rows)", n)
		}

		if err := st.PutTenant(ctx, contoso(fx.clock)); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteTenant(ctx, tidA); err != nil {
			t.Fatal(err)
		}
		if n := countSessions(t, st, "new"); n != 0 {
			t.Errorf("erasing the tenant left its session (%d rows)", n)
		}
	})
}
