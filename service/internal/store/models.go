package store

import "time"

// The gorm models. Encrypted columns are []byte and hold only ciphertext
// (crypto.DataKey.Seal); no model has a plaintext field for connection
// data, so no gorm path (Update("col"), map Updates, raw Save) can write
// one. Every encrypted row records the data key version it was sealed
// with, which re-encryption uses to find rows still on an old key.

type tenantRow struct {
	ID                string `gorm:"primaryKey;size:36"`
	DisplayNameEnc    []byte
	Seats             int
	LicenceExpires    time.Time
	DeltaPollSeconds  int
	MinClientVersion  string `gorm:"size:32"`
	DefaultCacheLimit int64
	OfficeCoauthoring bool
	// Added by migration 4; 0 means no limit, the client's interval, no
	// jitter.
	UploadBytesPerSec   int64 `gorm:"not null;default:0"`
	DownloadBytesPerSec int64 `gorm:"not null;default:0"`
	RefreshSeconds      int   `gorm:"not null;default:0"`
	StartJitterSeconds  int   `gorm:"not null;default:0"`
	// Added by migration 5; "" means organization, the default.
	LinkScope  string `gorm:"size:16;not null;default:''"`
	KeyVersion uint32
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (tenantRow) TableName() string { return "tenants" }

type domainRow struct {
	ID         string `gorm:"primaryKey;size:36"`
	TenantID   string `gorm:"size:36;index"`
	BlindIndex string `gorm:"size:64;uniqueIndex"`
	DomainEnc  []byte
	KeyVersion uint32
}

func (domainRow) TableName() string { return "tenant_domains" }

type tenantKeyRow struct {
	TenantID  string `gorm:"primaryKey;size:36"`
	Version   uint32 `gorm:"primaryKey;autoIncrement:false"`
	KEKID     string `gorm:"column:kek_id;size:512"`
	Wrapped   []byte
	CreatedAt time.Time
}

func (tenantKeyRow) TableName() string { return "tenant_keys" }

type systemKeyRow struct {
	Name      string `gorm:"primaryKey;size:64"`
	KEKID     string `gorm:"column:kek_id;size:512"`
	Wrapped   []byte
	CreatedAt time.Time
}

func (systemKeyRow) TableName() string { return "system_keys" }

type mappingRow struct {
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
	// Added by migration 8: the target's folder inside the library
	// (apitype.Target.FolderPath), sealed like the rest of the target;
	// NULL or empty for the whole library.
	FolderPathEnc []byte
	// Added by migration 9: a combined drive's libraries
	// (apitype.Target.Members) as JSON, sealed like the rest of the
	// target; NULL or empty for other kinds.
	MembersEnc []byte
	// Added by migration 10: apitype.Mapping.ExclusiveEditing.
	ExclusiveEditing bool   `gorm:"not null;default:false"`
	DriveLetter      string `gorm:"size:1"`
	Kind             string `gorm:"size:16"`
	ReadOnly         bool
	OfflinePin       string `gorm:"size:16"`
	CacheLimit       int64
	KeyVersion       uint32
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (mappingRow) TableName() string { return "mappings" }

type assignmentRow struct {
	ID         string `gorm:"primaryKey;size:36"`
	MappingID  string `gorm:"size:36;index"`
	TenantID   string `gorm:"size:36;index"`
	GroupIndex string `gorm:"size:64"` // blind index of the group id
	GroupEnc   []byte
	KeyVersion uint32
}

func (assignmentRow) TableName() string { return "mapping_assignments" }

type seatRow struct {
	TenantID  string `gorm:"primaryKey;size:36"`
	SeatKey   string `gorm:"primaryKey;size:64"`
	FirstSeen time.Time
	LastSeen  time.Time `gorm:"index"`
}

func (seatRow) TableName() string { return "seats" }

type auditRow struct {
	ID       uint64    `gorm:"primaryKey;autoIncrement"`
	TenantID string    `gorm:"size:36;index"`
	At       time.Time `gorm:"index"`
	Actor    string    `gorm:"size:64"` // crypto.Secrets.Actor pseudonym
	Action   string    `gorm:"size:64"`
	Target   string    `gorm:"size:64"` // a row id, never personal data
}

func (auditRow) TableName() string { return "audit_log" }

type migrationRow struct {
	Version   int `gorm:"primaryKey;autoIncrement:false"`
	Name      string
	AppliedAt time.Time
}

func (migrationRow) TableName() string { return "schema_migrations" }

type seatUsageRow struct {
	TenantID string `gorm:"primaryKey;size:36"`
	Day      string `gorm:"primaryKey;size:10"` // YYYY-MM-DD, UTC
	Used     int
}

func (seatUsageRow) TableName() string { return "seat_usage" }
