package store

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

// Portal sessions live in the database so that every replica of the
// service serves every admin (issue 12): a sign-in started on one replica
// finishes on another, and a sign-out on one ends the session on all.
//
// What a row holds, and what it does not:
//   - its id is the SHA-256 of the cookie value, so reading the table
//     gives no cookie that works;
//   - the tenant only as a keyed hash (a blind index) and the admin only
//     as the audit pseudonym (crypto.Secrets.Actor), for the per-tenant
//     and per-admin bounds: no UPN, no object id, and no tenant id, so an
//     erased tenant whose admin signs in again is not named in clear;
//   - everything else (the tenant id, CSRF token, the sign-in's state, nonce and PKCE
//     verifier, the admin's display name and sign-in domain, the
//     delegated Graph tokens, the one-shot notice) is sealed with
//     AES-256-GCM, the cell (table, column, row hash, tenant) bound as
//     associated data, like every other encrypted column.
//
// The session data key is derived from the server secret (HKDF, its own
// label), not a tenant's data key: a sign-in under way and an admin who
// has not onboarded yet have no tenant key. It is wrapped by the KEK with
// the server secret, so KEK rotation covers it.

// sessionTable is the portal sessions' table, as migration 7 creates it.
const sessionTable = "portal_sessions"

// portalSessionRow is one portal session. Migration 7 creates it from
// portalSessionRowV7, which never changes; a change here is a new step.
type portalSessionRow struct {
	IDHash    string    `gorm:"primaryKey;size:64"`
	TenantKey string    `gorm:"size:64;not null;default:''"` // sessionTenantKey; "" while the sign-in is under way
	AdminKey  string    `gorm:"size:64;not null;default:''"` // the admin's audit pseudonym
	CreatedAt time.Time // set by the store from the portal's clock
	LastSeen  time.Time
	ExpiresAt time.Time
	SecretEnc []byte // sealed sessionSecrets
	GraphEnc  []byte // sealed SessionGraph, nil without one
	FlashEnc  []byte // sealed notice, nil without one
}

func (portalSessionRow) TableName() string { return sessionTable }

// SessionLimits bound the session table. A new session past a bound
// pushes out the oldest of its kind: an admin's least recently used
// session, then the tenant's, and for sign-ins under way (which have no
// tenant yet) the oldest started, so a flood of started sign-ins never
// pushes out a signed-in admin.
type SessionLimits struct {
	PerAdmin  int // signed-in sessions of one admin
	PerTenant int // signed-in sessions of one tenant
	Pending   int // sign-ins under way, over all tenants
}

// DefaultSessionLimits are the portal's bounds: an admin on a few
// browsers, a tenant's whole IT team, and far more concurrent sign-ins
// than the sign-in rate limit lets in per address.
var DefaultSessionLimits = SessionLimits{PerAdmin: 10, PerTenant: 200, Pending: 10000}

// PortalSession is a portal session as the portal sees it, decrypted.
type PortalSession struct {
	TenantID string // "" while the sign-in is under way
	Actor    string // the admin's audit pseudonym; "" before sign-in

	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // the session is gone at this instant

	CSRF string

	// During sign-in.
	State, Nonce, Verifier, Next string

	// Once signed in.
	Name   string // display name, for the header
	Domain string // the sign-in domain, for onboarding
	Graph  SessionGraph
	Flash  string
}

// SessionGraph is the signed-in admin's delegated Graph token.
type SessionGraph struct {
	Access  string    `json:"a,omitempty"`
	Refresh string    `json:"r,omitempty"`
	Expires time.Time `json:"e"`
}

// sessionSecrets is the sealed part of a session that does not change
// after it is created.
type sessionSecrets struct {
	TenantID string `json:"t,omitempty"`
	CSRF     string `json:"c"`
	State    string `json:"s,omitempty"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	Next     string `json:"x,omitempty"`
	Name     string `json:"nm,omitempty"`
	Domain   string `json:"d,omitempty"`
}

// sessionTenantKey is how a session row names its tenant.
func (s *Store) sessionTenantKey(tid string) string {
	if tid == "" {
		return ""
	}
	return s.secrets.BlindIndex("portal-session-tenant", tid)
}

// sessionHash is the stored id of the session whose cookie value is id.
func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// deriveSessionKey derives the session data key from the server secret.
func deriveSessionKey(serverSecret []byte) (*crypto.DataKey, error) {
	k, err := hkdf.Key(sha256.New, serverSecret, nil, "mapdrive/portal-sessions/v1", crypto.KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive session key: %w", err)
	}
	return crypto.NewDataKey(1, k)
}

func (s *Store) sealSession(row *portalSessionRow, column string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode session %s: %w", column, err)
	}
	ct, err := s.sessionKey.Seal(plain, crypto.Cell{Tenant: row.TenantKey, Table: sessionTable, Column: column, Row: row.IDHash})
	if err != nil {
		return nil, fmt.Errorf("seal session %s: %w", column, err)
	}
	return ct, nil
}

func (s *Store) openSession(row *portalSessionRow, column string, ct []byte, v any) error {
	if len(ct) == 0 {
		return nil
	}
	plain, err := s.sessionKey.Open(ct, crypto.Cell{Tenant: row.TenantKey, Table: sessionTable, Column: column, Row: row.IDHash})
	if err != nil {
		return fmt.Errorf("open session %s: %w", column, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("decode session %s: %w", column, err)
	}
	return nil
}

// CreatePortalSession stores a new session under the cookie value id.
// now is the portal's clock: sessions expired by then are swept, and the
// table's bounds (lim) make room for the new one.
func (s *Store) CreatePortalSession(ctx context.Context, id string, ps PortalSession, now time.Time, lim SessionLimits) error {
	row := portalSessionRow{IDHash: sessionHash(id), TenantKey: s.sessionTenantKey(ps.TenantID), AdminKey: ps.Actor,
		CreatedAt: ps.Created.UTC(), LastSeen: ps.LastSeen.UTC(), ExpiresAt: ps.Expires.UTC()}
	var err error
	if row.SecretEnc, err = s.sealSession(&row, "secrets", sessionSecrets{TenantID: ps.TenantID, CSRF: ps.CSRF, State: ps.State, Nonce: ps.Nonce,
		Verifier: ps.Verifier, Next: ps.Next, Name: ps.Name, Domain: ps.Domain}); err != nil {
		return err
	}
	if ps.Graph != (SessionGraph{}) {
		if row.GraphEnc, err = s.sealSession(&row, "graph", ps.Graph); err != nil {
			return err
		}
	}
	if ps.Flash != "" {
		if row.FlashEnc, err = s.sealSession(&row, "flash", ps.Flash); err != nil {
			return err
		}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at <= ?", now.UTC()).Delete(&portalSessionRow{}).Error; err != nil {
			return fmt.Errorf("sweep expired sessions: %w", err)
		}
		var err error
		if row.TenantKey == "" {
			err = trimSessions(tx, "pending", lim.Pending, "created_at", "tenant_key = ?", "")
		} else if err = trimSessions(tx, "admin", lim.PerAdmin, "last_seen", "tenant_key = ? AND admin_key = ?", row.TenantKey, row.AdminKey); err == nil {
			err = trimSessions(tx, "tenant", lim.PerTenant, "last_seen", "tenant_key = ?", row.TenantKey)
		}
		if err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return fmt.Errorf("create portal session: %w", err)
	}
	return nil
}

// trimSessions deletes the oldest (by order) sessions matching where until
// fewer than limit remain, making room for one more. limit <= 0 means no
// bound.
func trimSessions(tx *gorm.DB, what string, limit int, order, where string, args ...any) error {
	if limit <= 0 {
		return nil
	}
	var n int64
	if err := tx.Model(&portalSessionRow{}).Where(where, args...).Count(&n).Error; err != nil {
		return fmt.Errorf("count %s sessions: %w", what, err)
	}
	if n < int64(limit) {
		return nil
	}
	var old []string
	if err := tx.Model(&portalSessionRow{}).Where(where, args...).Order(order).Order("id_hash").Limit(int(n)-limit+1).
		Pluck("id_hash", &old).Error; err != nil {
		return fmt.Errorf("find oldest %s sessions: %w", what, err)
	}
	if err := tx.Where("id_hash IN ?", old).Delete(&portalSessionRow{}).Error; err != nil {
		return fmt.Errorf("drop oldest %s sessions: %w", what, err)
	}
	return nil
}

// PortalSession returns the session whose cookie value is id. A session
// missing or expired at now (the portal's clock) is ErrNotFound; an
// expired one is deleted.
func (s *Store) PortalSession(ctx context.Context, id string, now time.Time) (PortalSession, error) {
	db := s.db.WithContext(ctx)
	var row portalSessionRow
	if err := db.Where("id_hash = ?", sessionHash(id)).Take(&row).Error; err != nil {
		return PortalSession{}, notFound(err, "portal session")
	}
	if !now.Before(row.ExpiresAt) {
		if err := db.Where("id_hash = ?", row.IDHash).Delete(&portalSessionRow{}).Error; err != nil {
			return PortalSession{}, fmt.Errorf("delete expired portal session: %w", err)
		}
		return PortalSession{}, fmt.Errorf("portal session expired: %w", ErrNotFound)
	}
	ps := PortalSession{Actor: row.AdminKey, Created: row.CreatedAt, LastSeen: row.LastSeen, Expires: row.ExpiresAt}
	var sec sessionSecrets
	if err := s.openSession(&row, "secrets", row.SecretEnc, &sec); err != nil {
		return PortalSession{}, err
	}
	ps.TenantID, ps.CSRF, ps.State, ps.Nonce, ps.Verifier, ps.Next, ps.Name, ps.Domain = sec.TenantID, sec.CSRF, sec.State, sec.Nonce, sec.Verifier, sec.Next, sec.Name, sec.Domain
	if err := s.openSession(&row, "graph", row.GraphEnc, &ps.Graph); err != nil {
		return PortalSession{}, err
	}
	if err := s.openSession(&row, "flash", row.FlashEnc, &ps.Flash); err != nil {
		return PortalSession{}, err
	}
	return ps, nil
}

// TouchPortalSession records a use of session id at lastSeen and moves
// its expiry to expires.
func (s *Store) TouchPortalSession(ctx context.Context, id string, lastSeen, expires time.Time) error {
	err := s.db.WithContext(ctx).Model(&portalSessionRow{}).Where("id_hash = ?", sessionHash(id)).
		Select("last_seen", "expires_at").Updates(&portalSessionRow{LastSeen: lastSeen.UTC(), ExpiresAt: expires.UTC()}).Error
	if err != nil {
		return fmt.Errorf("touch portal session: %w", err)
	}
	return nil
}

// SetPortalSessionGraph replaces session id's Graph token.
func (s *Store) SetPortalSessionGraph(ctx context.Context, id string, g SessionGraph) error {
	return s.setSessionCell(ctx, id, "graph", "graph_enc", g)
}

// SetPortalSessionFlash sets session id's one-shot notice.
func (s *Store) SetPortalSessionFlash(ctx context.Context, id, flash string) error {
	return s.setSessionCell(ctx, id, "flash", "flash_enc", flash)
}

// setSessionCell seals v into one column of session id. It writes through
// a struct with the column selected, never Update("col", v) or a map,
// so the ciphertext guard sees the value.
func (s *Store) setSessionCell(ctx context.Context, id, cell, column string, v any) error {
	db := s.db.WithContext(ctx)
	var row portalSessionRow
	if err := db.Select("id_hash", "tenant_key").Where("id_hash = ?", sessionHash(id)).Take(&row).Error; err != nil {
		return notFound(err, "portal session")
	}
	ct, err := s.sealSession(&row, cell, v)
	if err != nil {
		return err
	}
	upd := portalSessionRow{}
	switch column {
	case "graph_enc":
		upd.GraphEnc = ct
	case "flash_enc":
		upd.FlashEnc = ct
	default:
		return fmt.Errorf("session column %s: %w", column, ErrInvalid)
	}
	if err := db.Model(&portalSessionRow{}).Where("id_hash = ?", row.IDHash).Select(column).Updates(&upd).Error; err != nil {
		return fmt.Errorf("update portal session %s: %w", cell, err)
	}
	return nil
}

// TakePortalSessionFlash returns session id's one-shot notice and clears
// it; two requests racing see it once between them.
func (s *Store) TakePortalSessionFlash(ctx context.Context, id string) (string, error) {
	var flash string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row portalSessionRow
		if err := tx.Select("id_hash", "tenant_key", "flash_enc").Where("id_hash = ?", sessionHash(id)).Take(&row).Error; err != nil {
			return notFound(err, "portal session")
		}
		if len(row.FlashEnc) == 0 {
			return nil
		}
		if err := s.openSession(&row, "flash", row.FlashEnc, &flash); err != nil {
			return err
		}
		// Clear only the notice read: one set meanwhile survives.
		res := tx.Model(&portalSessionRow{}).Where("id_hash = ? AND flash_enc = ?", row.IDHash, row.FlashEnc).
			Select("flash_enc").Updates(map[string]any{"flash_enc": nil})
		if res.Error != nil {
			return fmt.Errorf("clear portal session notice: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			flash = "" // another request took it
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return flash, err
}

// DeletePortalSession ends session id. Deleting a session that is gone
// is not an error.
func (s *Store) DeletePortalSession(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Where("id_hash = ?", sessionHash(id)).Delete(&portalSessionRow{}).Error; err != nil {
		return fmt.Errorf("delete portal session: %w", err)
	}
	return nil
}

// deleteTenantSessions deletes every session of tenant tid: they are
// sealed under the session key, not the tenant's, so shredding the
// tenant's keys would not reach them.
func (s *Store) deleteTenantSessions(tx *gorm.DB, tid string) error {
	if err := tx.Where("tenant_key = ?", s.sessionTenantKey(tid)).Delete(&portalSessionRow{}).Error; err != nil {
		return fmt.Errorf("delete portal sessions: %w", err)
	}
	return nil
}

// SweepPortalSessions deletes the sessions expired at now and returns
// how many.
func (s *Store) SweepPortalSessions(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", now.UTC()).Delete(&portalSessionRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("sweep portal sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}
