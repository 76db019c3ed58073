package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Tenant is a registered Entra tenant and its licence.
type Tenant struct {
	ID             string // Entra tenant GUID
	DisplayName    string
	Domains        []string // verified domains, lower case
	Seats          int
	LicenceExpires time.Time
	Policies       apitype.Policies
	CreatedAt      time.Time
}

// DefaultPolicies are a new tenant's policies.
func DefaultPolicies() apitype.Policies {
	return apitype.Policies{DeltaPollSeconds: 60, DefaultCacheLimitBytes: 10 << 30, OfficeCoauthoring: true}
}

// LicenceActive reports whether the licence is valid at now.
func (t *Tenant) LicenceActive(now time.Time) bool {
	return t.Seats > 0 && now.Before(t.LicenceExpires)
}

func validTenant(t *Tenant) error {
	if !isGUID(t.ID) {
		return fmt.Errorf("tenant id %q is not a GUID: %w", t.ID, ErrInvalid)
	}
	if len(t.Domains) == 0 {
		return fmt.Errorf("tenant %s needs at least one verified domain: %w", t.ID, ErrInvalid)
	}
	for _, d := range t.Domains {
		if d == "" || strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
			return fmt.Errorf("domain %q: %w", d, ErrInvalid)
		}
	}
	if t.Seats < 0 {
		return fmt.Errorf("seats %d: %w", t.Seats, ErrInvalid)
	}
	return nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// PutTenant registers a tenant, or updates its name, domains, licence and
// policies. A new tenant gets its own data key. A domain already
// registered to another tenant is a conflict.
func (s *Store) PutTenant(ctx context.Context, t Tenant) error {
	t.ID = strings.ToLower(t.ID)
	for i := range t.Domains {
		t.Domains[i] = strings.ToLower(strings.TrimSpace(t.Domains[i]))
	}
	slices.Sort(t.Domains)
	t.Domains = slices.Compact(t.Domains)
	if err := validTenant(&t); err != nil {
		return err
	}
	if t.Policies == (apitype.Policies{}) {
		t.Policies = DefaultPolicies()
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row tenantRow
		err := tx.Where("id = ?", t.ID).Take(&row).Error
		isNew := errors.Is(err, gorm.ErrRecordNotFound)
		if err != nil && !isNew {
			return err
		}
		if isNew {
			if err := s.newTenantKey(ctx, tx, t.ID, 1); err != nil {
				return err
			}
			row = tenantRow{ID: t.ID, CreatedAt: s.now().UTC()}
		}
		z := s.sealer(ctx, tx, t.ID, "tenants", t.ID)
		row.DisplayNameEnc = z.seal("display_name", t.DisplayName)
		if z.err != nil {
			return z.err
		}
		row.KeyVersion = z.key.Version()
		row.Seats = t.Seats
		row.LicenceExpires = t.LicenceExpires.UTC()
		setPolicies(&row, t.Policies)
		row.UpdatedAt = s.now().UTC()
		if err := tx.Save(&row).Error; err != nil {
			return err
		}
		return s.putDomains(ctx, tx, t.ID, t.Domains)
	})
	s.cfg.evict(t.ID)
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("register tenant %s: a domain belongs to another tenant: %w", t.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("register tenant %s: %w", t.ID, err)
	}
	return nil
}

func setPolicies(row *tenantRow, p apitype.Policies) {
	row.DeltaPollSeconds = p.DeltaPollSeconds
	row.MinClientVersion = p.MinClientVersion
	row.DefaultCacheLimit = p.DefaultCacheLimitBytes
	row.OfficeCoauthoring = p.OfficeCoauthoring
	row.UploadBytesPerSec = p.UploadBytesPerSecond
	row.DownloadBytesPerSec = p.DownloadBytesPerSecond
	row.RefreshSeconds = p.RefreshSeconds
	row.StartJitterSeconds = p.StartJitterSeconds
	row.LinkScope = p.LinkScope
}

// Policy bounds, checked by SetPolicies (the portal checks the same with
// friendlier words).
const (
	MinRefreshSeconds = 60    // a refresh per minute per machine is the most the service should see
	MaxRefreshSeconds = 86400 // a day: the lease lasts 7
	MaxStartJitter    = 3600  // an hour: a longer wait looks like a broken agent
	MaxBytesPerSecond = 100_000 * 1_000_000
)

// ValidPolicies reports what is wrong with p, or nil.
func ValidPolicies(p apitype.Policies) error {
	switch {
	case p.DeltaPollSeconds < 5 || p.DeltaPollSeconds > 86400:
		return fmt.Errorf("policies: delta poll interval %d s is not within 5..86400 s: %w", p.DeltaPollSeconds, ErrInvalid)
	case p.DefaultCacheLimitBytes < 0:
		return fmt.Errorf("policies: cache limit %d is negative: %w", p.DefaultCacheLimitBytes, ErrInvalid)
	case p.UploadBytesPerSecond < 0 || p.UploadBytesPerSecond > MaxBytesPerSecond:
		return fmt.Errorf("policies: upload limit %d B/s is not within 0..%d: %w", p.UploadBytesPerSecond, int64(MaxBytesPerSecond), ErrInvalid)
	case p.DownloadBytesPerSecond < 0 || p.DownloadBytesPerSecond > MaxBytesPerSecond:
		return fmt.Errorf("policies: download limit %d B/s is not within 0..%d: %w", p.DownloadBytesPerSecond, int64(MaxBytesPerSecond), ErrInvalid)
	case p.RefreshSeconds != 0 && (p.RefreshSeconds < MinRefreshSeconds || p.RefreshSeconds > MaxRefreshSeconds):
		return fmt.Errorf("policies: refresh interval %d s is not 0 or within %d..%d s: %w", p.RefreshSeconds, MinRefreshSeconds, MaxRefreshSeconds, ErrInvalid)
	case p.StartJitterSeconds < 0 || p.StartJitterSeconds > MaxStartJitter:
		return fmt.Errorf("policies: start jitter %d s is not within 0..%d s: %w", p.StartJitterSeconds, MaxStartJitter, ErrInvalid)
	case !ValidLinkScope(p.LinkScope):
		return fmt.Errorf("policies: link scope %q is not organization, users, anonymous or none: %w", p.LinkScope, ErrInvalid)
	}
	return nil
}

// ValidLinkScope reports whether scope is a link scope policy; "" is the
// default, organization.
func ValidLinkScope(scope string) bool {
	switch scope {
	case "", apitype.LinkScopeOrganization, apitype.LinkScopeUsers, apitype.LinkScopeAnonymous, apitype.LinkScopeNone:
		return true
	}
	return false
}

func (s *Store) putDomains(ctx context.Context, tx *gorm.DB, tid string, domains []string) error {
	if err := tx.Where("tenant_id = ?", tid).Delete(&domainRow{}).Error; err != nil {
		return err
	}
	for _, d := range domains {
		id := newID()
		z := s.sealer(ctx, tx, tid, "tenant_domains", id)
		row := domainRow{ID: id, TenantID: tid, BlindIndex: s.secrets.BlindIndex("domain", d), DomainEnc: z.seal("domain", d)}
		if z.err != nil {
			return z.err
		}
		row.KeyVersion = z.key.Version()
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	return nil
}

// SetPolicies replaces a tenant's policies.
func (s *Store) SetPolicies(ctx context.Context, tid string, p apitype.Policies) error {
	if err := ValidPolicies(p); err != nil {
		return err
	}
	row := tenantRow{UpdatedAt: s.now().UTC()}
	setPolicies(&row, p)
	res := s.db.WithContext(ctx).Model(&tenantRow{}).Where("id = ?", tid).Select("delta_poll_seconds", "min_client_version", "default_cache_limit", "office_coauthoring",
		"upload_bytes_per_sec", "download_bytes_per_sec", "refresh_seconds", "start_jitter_seconds", "link_scope", "updated_at").
		Updates(&row)
	s.cfg.evict(tid)
	if res.Error != nil {
		return fmt.Errorf("set policies of %s: %w", tid, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set policies of %s: %w", tid, ErrNotFound)
	}
	return nil
}

// Tenant returns a registered tenant.
func (s *Store) Tenant(ctx context.Context, tid string) (Tenant, error) {
	c, err := s.Config(ctx, tid)
	if err != nil {
		return Tenant{}, err
	}
	return c.Tenant, nil
}

// Tenants returns every registered tenant.
func (s *Store) Tenants(ctx context.Context) ([]Tenant, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&tenantRow{}).Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]Tenant, 0, len(ids))
	for _, id := range ids {
		t, err := s.loadTenant(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// TenantIDByDomain finds the tenant a verified domain belongs to, through
// the domain's blind index.
func (s *Store) TenantIDByDomain(ctx context.Context, domain string) (string, error) {
	var row domainRow
	err := s.db.WithContext(ctx).Where("blind_index = ?", s.secrets.BlindIndex("domain", domain)).Take(&row).Error
	if err != nil {
		return "", notFound(err, "tenant by domain")
	}
	return row.TenantID, nil
}

func (s *Store) loadTenant(ctx context.Context, db *gorm.DB, tid string) (Tenant, error) {
	var row tenantRow
	if err := db.WithContext(ctx).Where("id = ?", tid).Take(&row).Error; err != nil {
		return Tenant{}, notFound(err, "tenant "+tid)
	}
	var doms []domainRow
	if err := db.WithContext(ctx).Where("tenant_id = ?", tid).Find(&doms).Error; err != nil {
		return Tenant{}, fmt.Errorf("domains of tenant %s: %w", tid, err)
	}
	o := s.opener(ctx, db, tid)
	t := Tenant{
		ID: row.ID, DisplayName: o.open("tenants", "display_name", row.ID, row.DisplayNameEnc),
		Seats: row.Seats, LicenceExpires: row.LicenceExpires.UTC(), CreatedAt: row.CreatedAt.UTC(),
		Policies: apitype.Policies{DeltaPollSeconds: row.DeltaPollSeconds, MinClientVersion: row.MinClientVersion,
			DefaultCacheLimitBytes: row.DefaultCacheLimit, OfficeCoauthoring: row.OfficeCoauthoring,
			UploadBytesPerSecond: row.UploadBytesPerSec, DownloadBytesPerSecond: row.DownloadBytesPerSec,
			RefreshSeconds: row.RefreshSeconds, StartJitterSeconds: row.StartJitterSeconds, LinkScope: row.LinkScope},
	}
	for _, d := range doms {
		t.Domains = append(t.Domains, o.open("tenant_domains", "domain", d.ID, d.DomainEnc))
	}
	slices.Sort(t.Domains)
	if o.err != nil {
		return Tenant{}, fmt.Errorf("decrypt tenant %s: %w", tid, o.err)
	}
	return t, nil
}

// DeleteTenant erases every row of a tenant and destroys its data keys
// (crypto-shredding): ciphertext of the tenant left anywhere, such as in a
// backup taken after the last KEK rotation, can no longer be decrypted
// once the backups holding the wrapped key age out (see docs).
func (s *Store) DeleteTenant(ctx context.Context, tid string) error {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", tid).Delete(&tenantRow{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		for _, m := range []any{&assignmentRow{}, &mappingRow{}, &domainRow{}, &seatRow{}, &seatUsageRow{}, &auditRow{}, &tenantKeyRow{}} {
			if err := tx.Where("tenant_id = ?", tid).Delete(m).Error; err != nil {
				return err
			}
		}
		return s.deleteTenantSessions(tx, tid)
	})
	s.keys.evict(tid)
	s.cfg.evict(tid)
	s.seen.mu.Lock()
	clear(s.seen.at)
	s.seen.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", tid, err)
	}
	if n == 0 {
		return fmt.Errorf("delete tenant %s: %w", tid, ErrNotFound)
	}
	if s.dialect == DialectSQLite {
		// Let SQLite overwrite the freed pages rather than leave old
		// ciphertext in the file (secure_delete would do it per write).
		if err := s.db.WithContext(ctx).Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error; err != nil {
			s.log.Warn("checkpoint after tenant delete", "err", err)
		}
	}
	return nil
}

// Config is what validations need of a tenant, cached per replica for the
// store's TTL.
type Config struct {
	Tenant   Tenant
	Domains  map[string]bool // blind indexes of the verified domains
	Mappings []Mapping       // in order, with their assignments
	index    func(purpose, value string) string
}

type configCache struct {
	mu      sync.Mutex // guards entries
	entries map[string]configEntry
	load    singleflight.Group // one reload per tenant at a time
}

type configEntry struct {
	loaded time.Time
	cfg    *Config
}

func (c *configCache) init() { c.entries = map[string]configEntry{} }

func (c *configCache) evict(tid string) {
	c.mu.Lock()
	delete(c.entries, tid)
	c.mu.Unlock()
}

// Config returns the tenant's configuration. The result is shared: do not
// modify it.
func (s *Store) Config(ctx context.Context, tid string) (*Config, error) {
	s.cfg.mu.Lock()
	e, ok := s.cfg.entries[tid]
	s.cfg.mu.Unlock()
	if ok && s.now().Sub(e.loaded) < s.ttl {
		return e.cfg, nil
	}
	// Requests arriving while the entry reloads share one load instead of
	// each querying the database.
	v, err, _ := s.cfg.load.Do(tid, func() (any, error) {
		ctx := context.WithoutCancel(ctx) // shared: one caller's cancel must not fail the others
		t, err := s.loadTenant(ctx, s.db, tid)
		if err != nil {
			return nil, err
		}
		ms, err := s.Mappings(ctx, tid)
		if err != nil {
			return nil, err
		}
		c := &Config{Tenant: t, Domains: map[string]bool{}, Mappings: ms, index: s.secrets.BlindIndex}
		for _, d := range t.Domains {
			c.Domains[s.secrets.BlindIndex("domain", d)] = true
		}
		s.cfg.mu.Lock()
		s.cfg.entries[tid] = configEntry{loaded: s.now(), cfg: c}
		s.cfg.mu.Unlock()
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Config), nil
}

// HasDomain reports whether domain is one of the tenant's verified domains.
func (c *Config) HasDomain(domain string) bool {
	return c.Domains[c.index("domain", domain)]
}

// MappingsFor returns the mappings assigned to a member of groups (Entra
// group GUIDs), in order, as the client receives them.
func (c *Config) MappingsFor(groups []string) []apitype.Mapping {
	member := map[string]bool{}
	for _, g := range groups {
		member[strings.ToLower(g)] = true
	}
	out := []apitype.Mapping{}
	for _, m := range c.Mappings {
		ok := m.Everyone
		for _, g := range m.Groups {
			ok = ok || member[strings.ToLower(g)]
		}
		if ok {
			out = append(out, m.Mapping)
		}
	}
	return out
}
