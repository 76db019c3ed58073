package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned schema step. Steps run in order, each in a
// transaction (where the database allows DDL in one), and are recorded in
// schema_migrations; a step never changes once released: a schema change
// is a new step.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// v1 tables, frozen as of migration 1. They are the current models today;
// when a model changes, copy its v1 shape here first and add a step.
var migrations = []migration{
	{1, "initial schema", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&tenantRowV1{}, &domainRow{}, &tenantKeyRow{}, &systemKeyRow{},
			&mappingRowV1{}, &assignmentRow{}, &seatRow{}, &auditRow{})
	}},
	{2, "seat and audit lookups by tenant and time", func(tx *gorm.DB) error {
		if err := tx.Exec("CREATE INDEX idx_seats_tenant_last ON seats (tenant_id, last_seen)").Error; err != nil {
			return err
		}
		return tx.Exec("CREATE INDEX idx_audit_tenant_at ON audit_log (tenant_id, at)").Error
	}},
	{3, "daily seat usage", func(tx *gorm.DB) error {
		type seatUsageV3 struct {
			TenantID string `gorm:"primaryKey;size:36"`
			Day      string `gorm:"primaryKey;size:10"`
			Used     int
		}
		return tx.Table("seat_usage").Migrator().CreateTable(&seatUsageV3{})
	}},
	{4, "bandwidth, refresh and start jitter policies", func(tx *gorm.DB) error {
		m := tx.Migrator()
		for _, f := range []string{"UploadBytesPerSec", "DownloadBytesPerSec", "RefreshSeconds", "StartJitterSeconds"} {
			if err := m.AddColumn(&tenantRowV4{}, f); err != nil {
				return fmt.Errorf("add column %s: %w", f, err)
			}
		}
		return nil
	}},
	{5, "sharing link scope policy", func(tx *gorm.DB) error {
		if err := tx.Migrator().AddColumn(&tenantRowV5{}, "LinkScope"); err != nil {
			return fmt.Errorf("add column LinkScope: %w", err)
		}
		return nil
	}},
	{6, "trial tombstones that survive a tenant's erasure", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&trialRow{})
	}},
	{7, "portal sessions shared by every replica", func(tx *gorm.DB) error {
		if err := tx.Migrator().CreateTable(&portalSessionRowV7{}); err != nil {
			return err
		}
		// The bounds count an admin's and a tenant's sessions; the sweep
		// deletes by expiry.
		if err := tx.Exec("CREATE INDEX idx_portal_sessions_tenant_admin ON portal_sessions (tenant_key, admin_key, last_seen)").Error; err != nil {
			return err
		}
		return tx.Exec("CREATE INDEX idx_portal_sessions_expires ON portal_sessions (expires_at)").Error
	}},
	// Step 8 adds a column only, so it does not depend on step 7 (portal
	// sessions, a separate table) having run before it.
	{8, "a mapping's target folder inside its library", func(tx *gorm.DB) error {
		if err := tx.Migrator().AddColumn(&mappingRowV8{}, "FolderPathEnc"); err != nil {
			return fmt.Errorf("add column FolderPathEnc: %w", err)
		}
		return nil
	}},
	{9, "a combined drive's libraries", func(tx *gorm.DB) error {
		if err := tx.Migrator().AddColumn(&mappingRowV9{}, "MembersEnc"); err != nil {
			return fmt.Errorf("add column MembersEnc: %w", err)
		}
		return nil
	}},
	// Step 10 adds a column only, with a default that keeps old mappings
	// as they were.
	{10, "a mapping's exclusive editing option (check-out)", func(tx *gorm.DB) error {
		if err := tx.Migrator().AddColumn(&mappingRowV10{}, "ExclusiveEditing"); err != nil {
			return fmt.Errorf("add column ExclusiveEditing: %w", err)
		}
		return nil
	}},
}

// mappingRowV10 holds the column migration 10 adds to mappings.
type mappingRowV10 struct {
	ExclusiveEditing bool `gorm:"not null;default:false"`
}

func (mappingRowV10) TableName() string { return "mappings" }

// portalSessionRowV7 is the portal_sessions table as migration 7 created
// it (see portalSessionRow).
type portalSessionRowV7 struct {
	IDHash    string `gorm:"primaryKey;size:64"`
	TenantKey string `gorm:"size:64;not null;default:''"`
	AdminKey  string `gorm:"size:64;not null;default:''"`
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	SecretEnc []byte
	GraphEnc  []byte
	FlashEnc  []byte
}

func (portalSessionRowV7) TableName() string { return "portal_sessions" }

// mappingRowV8 holds the column migration 8 adds to mappings.
type mappingRowV8 struct {
	FolderPathEnc []byte
}

func (mappingRowV8) TableName() string { return "mappings" }

// mappingRowV9 holds the column migration 9 adds to mappings.
type mappingRowV9 struct {
	MembersEnc []byte
}

func (mappingRowV9) TableName() string { return "mappings" }

// mappingRowV1 is the mappings table as migration 1 created it.
type mappingRowV1 struct {
	ID             string `gorm:"primaryKey;size:36"`
	TenantID       string `gorm:"size:36;index"`
	Position       int
	Everyone       bool
	DisplayNameEnc []byte
	MountNameEnc   []byte
	SiteURLEnc     []byte
	LibraryEnc     []byte
	DriveIDEnc     []byte
	GroupIDEnc     []byte
	DriveLetter    string `gorm:"size:1"`
	Kind           string `gorm:"size:16"`
	ReadOnly       bool
	OfflinePin     string `gorm:"size:16"`
	CacheLimit     int64
	KeyVersion     uint32
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (mappingRowV1) TableName() string { return "mappings" }

// tenantRowV5 holds the column migration 5 adds to tenants.
type tenantRowV5 struct {
	LinkScope string `gorm:"size:16;not null;default:''"`
}

func (tenantRowV5) TableName() string { return "tenants" }

// tenantRowV1 is the tenants table as migration 1 created it.
type tenantRowV1 struct {
	ID                string `gorm:"primaryKey;size:36"`
	DisplayNameEnc    []byte
	Seats             int
	LicenceExpires    time.Time
	DeltaPollSeconds  int
	MinClientVersion  string `gorm:"size:32"`
	DefaultCacheLimit int64
	OfficeCoauthoring bool
	KeyVersion        uint32
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

func (tenantRowV1) TableName() string { return "tenants" }

// tenantRowV4 holds the columns migration 4 adds to tenants.
type tenantRowV4 struct {
	UploadBytesPerSec   int64 `gorm:"not null;default:0"`
	DownloadBytesPerSec int64 `gorm:"not null;default:0"`
	RefreshSeconds      int   `gorm:"not null;default:0"`
	StartJitterSeconds  int   `gorm:"not null;default:0"`
}

func (tenantRowV4) TableName() string { return "tenants" }

// SchemaVersion is the version Migrate brings the database to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// Migrate applies the pending migrations. On PostgreSQL an advisory lock
// makes replicas starting together take turns.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if err := db.Migrator().AutoMigrate(&migrationRow{}); err != nil { // the bookkeeping table only
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return db.Transaction(func(tx *gorm.DB) error {
		if s.dialect == DialectPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(7308152101)").Error; err != nil {
				return fmt.Errorf("migrate: lock: %w", err)
			}
		}
		var done []migrationRow
		if err := tx.Find(&done).Error; err != nil {
			return fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		for _, d := range done {
			applied[d.Version] = true
		}
		for _, m := range migrations {
			if applied[m.version] {
				continue
			}
			if err := m.up(tx); err != nil {
				return fmt.Errorf("migrate: step %d (%s): %w", m.version, m.name, err)
			}
			if err := tx.Create(&migrationRow{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error; err != nil {
				return fmt.Errorf("migrate: record step %d: %w", m.version, err)
			}
			s.log.Info("schema migrated", "version", m.version, "step", m.name)
		}
		return nil
	})
}

// AppliedVersion returns the highest applied migration.
func (s *Store) AppliedVersion(ctx context.Context) (int, error) {
	var v *int
	if err := s.db.WithContext(ctx).Model(&migrationRow{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
