package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// SeatWindow is how long a seat stays taken after its last use.
const SeatWindow = 30 * 24 * time.Hour

// seatRefresh is how stale last_seen may get before a validation writes
// it again, so that most validations cost one read.
const seatRefresh = time.Hour

// seenTTL is how long a replica trusts its own memory that a seat is taken
// and fresh, sparing a database read per validation. It is far below both
// the seat window and seatRefresh, so seat counts stay exact.
const seenTTL = time.Minute

// seatMemo remembers seats this replica admitted or refreshed recently.
type seatMemo struct {
	mu sync.Mutex // guards at
	at map[string]time.Time
}

// TouchSeat records a use of seat seatKey of tenant tid at now. A seat used
// in the last SeatWindow is refreshed; a new (or released) one is admitted
// only while fewer than limit seats are in use, else ErrSeatsExhausted.
func (s *Store) TouchSeat(ctx context.Context, tid, seatKey string, limit int) (err error) {
	now := s.now().UTC()
	seenKey := tid + "|" + seatKey
	s.seen.mu.Lock()
	last, ok := s.seen.at[seenKey]
	s.seen.mu.Unlock()
	if ok && now.Sub(last) < seenTTL && now.Sub(last) >= 0 {
		return nil // this replica saw the seat in use moments ago
	}
	defer func() {
		if err == nil {
			s.seen.mu.Lock()
			if len(s.seen.at) > 200000 {
				clear(s.seen.at)
			}
			s.seen.at[seenKey] = now
			s.seen.mu.Unlock()
		}
	}()
	db := s.db.WithContext(ctx)
	var cur seatRow
	err = db.Where("tenant_id = ? AND seat_key = ?", tid, seatKey).Take(&cur).Error
	switch {
	case err == nil && now.Sub(cur.LastSeen) < SeatWindow:
		if now.Sub(cur.LastSeen) < seatRefresh {
			return nil
		}
		if err := db.Model(&seatRow{}).Where("tenant_id = ? AND seat_key = ?", tid, seatKey).Update("last_seen", now).Error; err != nil {
			return fmt.Errorf("refresh seat: %w", err)
		}
		return nil
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("read seat: %w", err)
	}
	// Admission of a new seat: the no-op UPDATE of the tenant row takes
	// its write lock until commit, so concurrent admissions of one tenant
	// on any replica count one after the other.
	if s.dialect == DialectSQLite {
		s.seatM.Lock()
		defer s.seatM.Unlock()
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE tenants SET seats = seats WHERE id = ?", tid)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("tenant %s: %w", tid, ErrNotFound)
		}
		var used int64
		if err := tx.Model(&seatRow{}).Where("tenant_id = ? AND last_seen >= ? AND seat_key <> ?", tid, now.Add(-SeatWindow), seatKey).Count(&used).Error; err != nil {
			return err
		}
		if used >= int64(limit) {
			return ErrSeatsExhausted
		}
		res = tx.Model(&seatRow{}).Where("tenant_id = ? AND seat_key = ?", tid, seatKey).Updates(map[string]any{"first_seen": now, "last_seen": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return tx.Create(&seatRow{TenantID: tid, SeatKey: seatKey, FirstSeen: now, LastSeen: now}).Error
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("admit seat in tenant %s: %w", tid, err)
	}
	return nil
}

// SeatsUsed counts the tenant's seats used in the last SeatWindow.
func (s *Store) SeatsUsed(ctx context.Context, tid string) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&seatRow{}).Where("tenant_id = ? AND last_seen >= ?", tid, s.now().UTC().Add(-SeatWindow)).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count seats of %s: %w", tid, err)
	}
	return int(n), nil
}

// ReleaseStaleSeats deletes seats unused for SeatWindow, in every tenant.
func (s *Store) ReleaseStaleSeats(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("last_seen < ?", s.now().UTC().Add(-SeatWindow)).Delete(&seatRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("release stale seats: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Seats lists the tenant's seats.
func (s *Store) Seats(ctx context.Context, tid string) ([]apitype.SeatExport, error) {
	var rows []seatRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", tid).Order("first_seen").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list seats of %s: %w", tid, err)
	}
	out := make([]apitype.SeatExport, 0, len(rows))
	for _, r := range rows {
		out = append(out, apitype.SeatExport{SeatKey: r.SeatKey, FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC()})
	}
	return out, nil
}

// Audit records an admin action. actor is a pseudonym (crypto.Secrets.Actor)
// and target a row id: neither is personal data.
func (s *Store) Audit(ctx context.Context, tid, actor, action, target string) error {
	row := auditRow{TenantID: tid, At: s.now().UTC(), Actor: actor, Action: action, Target: target}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// AuditLog returns the tenant's newest audit entries first, at most limit
// (0: all), optionally only of one action.
func (s *Store) AuditLog(ctx context.Context, tid, action string, limit int) ([]apitype.AuditEntry, error) {
	q := s.db.WithContext(ctx).Where("tenant_id = ?", tid)
	if action != "" {
		q = q.Where("action = ?", action)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []auditRow
	if err := q.Order("at DESC").Order("id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read audit log of %s: %w", tid, err)
	}
	out := make([]apitype.AuditEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, apitype.AuditEntry{At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Target: r.Target})
	}
	return out, nil
}

// Export returns everything stored about a tenant, decrypted.
func (s *Store) Export(ctx context.Context, tid string) (apitype.TenantExport, error) {
	t, err := s.loadTenant(ctx, s.db, tid)
	if err != nil {
		return apitype.TenantExport{}, err
	}
	ms, err := s.Mappings(ctx, tid)
	if err != nil {
		return apitype.TenantExport{}, err
	}
	seats, err := s.Seats(ctx, tid)
	if err != nil {
		return apitype.TenantExport{}, err
	}
	audit, err := s.AuditLog(ctx, tid, "", 0)
	if err != nil {
		return apitype.TenantExport{}, err
	}
	used, err := s.SeatsUsed(ctx, tid)
	if err != nil {
		return apitype.TenantExport{}, err
	}
	if ms == nil {
		ms = []Mapping{}
	}
	return apitype.TenantExport{Tenant: t.API(used), Mappings: ms, Seats: seats, Audit: audit, ExportedAt: s.now().UTC()}, nil
}

// API returns the tenant as the admin API shows it.
func (t *Tenant) API(seatsUsed int) apitype.Tenant {
	return apitype.Tenant{ID: t.ID, DisplayName: t.DisplayName, Domains: t.Domains, Seats: t.Seats, SeatsUsed: seatsUsed,
		LicenceExpires: t.LicenceExpires, Policies: t.Policies}
}

// RecordSeatUsage stores today's seats-in-use count of every tenant (one
// row per tenant and UTC day, overwritten during the day), for the
// portal's usage chart.
func (s *Store) RecordSeatUsage(ctx context.Context) error {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&tenantRow{}).Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("record seat usage: %w", err)
	}
	day := s.now().UTC().Format("2006-01-02")
	for _, id := range ids {
		n, err := s.SeatsUsed(ctx, id)
		if err != nil {
			return err
		}
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&seatUsageRow{}).Where("tenant_id = ? AND day = ?", id, day).Update("used", n)
			if res.Error != nil || res.RowsAffected > 0 {
				return res.Error
			}
			return tx.Create(&seatUsageRow{TenantID: id, Day: day, Used: n}).Error
		})
		if err != nil {
			return fmt.Errorf("record seat usage of %s: %w", id, err)
		}
	}
	return nil
}

// SeatUsage returns the tenant's daily seat counts of the last days days,
// oldest first.
func (s *Store) SeatUsage(ctx context.Context, tid string, days int) ([]apitype.SeatUsage, error) {
	since := s.now().UTC().AddDate(0, 0, -days).Format("2006-01-02")
	var rows []seatUsageRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND day > ?", tid, since).Order("day").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read seat usage of %s: %w", tid, err)
	}
	out := make([]apitype.SeatUsage, 0, len(rows))
	for _, r := range rows {
		out = append(out, apitype.SeatUsage{Day: r.Day, Used: r.Used})
	}
	return out, nil
}
