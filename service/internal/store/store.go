// Package store is the service's database layer and the only package that
// imports gorm. It encrypts connection data per field before it reaches
// the database (AES-256-GCM under per-tenant data keys wrapped by a KEK,
// see package crypto), looks values up through blind indexes, and scopes
// every query by tenant. It runs on SQLite (pure Go, the default),
// PostgreSQL and SQL Server / Azure SQL.
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/microsoft/go-mssqldb/azuread"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrSeatsExhausted = errors.New("every seat of the licence is in use")
	ErrInvalid        = errors.New("invalid")
)

// Dialects.
const (
	DialectSQLite    = "sqlite"
	DialectPostgres  = "postgres"
	DialectSQLServer = "sqlserver"
)

// Options configure Open.
type Options struct {
	// Migrate applies pending schema migrations at open. Without it, Open
	// fails if the schema is behind.
	Migrate bool
	// CacheTTL bounds how long tenant configuration and data keys are
	// cached in this replica (default 5s). Writes through this Store
	// evict at once; other replicas see them within the TTL.
	CacheTTL time.Duration
	// KeyCacheTTL is how long a replica keeps unwrapped data keys, and so
	// how long it may go on sealing with a key after a rotation (default
	// one minute). RetireOldKeys must not run sooner than this after
	// Reencrypt.
	KeyCacheTTL time.Duration
	// MaxOpenConns caps the connection pool (default 16).
	MaxOpenConns int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is the database. Safe for concurrent use.
type Store struct {
	db      *gorm.DB // immutable
	dialect string
	kek     crypto.KEK
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	keyTTL  time.Duration
	secrets *crypto.Secrets // set in Open, immutable after
	// sessionKey seals portal sessions; derived from the server secret
	// in Open, immutable after.
	sessionKey *crypto.DataKey

	keys  keyCache
	cfg   configCache
	seen  seatMemo
	seatM sync.Mutex // serializes new-seat admission on SQLite (one writer anyway)
}

// SplitDSN returns the dialect of a database address and the driver's DSN:
// "postgres://..." and "postgresql://..." (PostgreSQL), "sqlserver://..."
// (SQL Server, Azure SQL), "sqlite:<path>" or a bare path (SQLite).
func SplitDSN(addr string) (dialect, dsn string) {
	switch {
	case strings.HasPrefix(addr, "postgres://"), strings.HasPrefix(addr, "postgresql://"):
		return DialectPostgres, addr
	case strings.HasPrefix(addr, "sqlserver://"):
		return DialectSQLServer, addr
	default:
		return DialectSQLite, strings.TrimPrefix(addr, "sqlite:")
	}
}

// Open connects to the database at addr (see SplitDSN), migrates it if
// asked, and loads (or, on first start, creates) the server secret,
// wrapped by kek.
func Open(ctx context.Context, addr string, kek crypto.KEK, log *slog.Logger, opts Options) (*Store, error) {
	dialect, dsn := SplitDSN(addr)
	var dial gorm.Dialector
	switch dialect {
	case DialectPostgres:
		dial = postgres.Open(dsn)
	case DialectSQLServer:
		if strings.Contains(strings.ToLower(dsn), "fedauth=") {
			// Entra authentication (e.g. fedauth=ActiveDirectoryManagedIdentity
			// on Azure SQL) goes through the azuread driver.
			dial = sqlserver.New(sqlserver.Config{DriverName: azuread.DriverName, DSN: dsn})
		} else {
			dial = sqlserver.Open(dsn)
		}
	default:
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dial = sqlite.Open(dsn + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate")
	}
	db, err := gorm.Open(dial, &gorm.Config{
		Logger:                 logger.Discard, // queries carry ciphertext only, but keep logs quiet
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if err := registerGuard(db); err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	maxConns := opts.MaxOpenConns
	if maxConns == 0 {
		maxConns = 16
	}
	if dialect == DialectSQLite {
		maxConns = max(maxConns, 4)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	s := &Store{db: db, dialect: dialect, kek: kek, log: log, now: opts.Now, ttl: opts.CacheTTL}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl == 0 {
		s.ttl = 5 * time.Second
	}
	s.keyTTL = opts.KeyCacheTTL
	if s.keyTTL == 0 {
		s.keyTTL = time.Minute
	}
	s.keys.init()
	s.cfg.init()
	s.seen.at = map[string]time.Time{}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	if opts.Migrate {
		if err := s.Migrate(ctx); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	if v, err := s.AppliedVersion(ctx); err != nil || v < SchemaVersion() {
		sqlDB.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("database schema is at version %d, want %d: run with --migrate", v, SchemaVersion())
	}
	if err := s.loadSecrets(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Dialect returns the database dialect.
func (s *Store) Dialect() string { return s.dialect }

// KeyCacheTTL returns how long replicas cache data keys.
func (s *Store) KeyCacheTTL() time.Duration { return s.keyTTL }

// Secrets returns the keys derived from the server secret.
func (s *Store) Secrets() *crypto.Secrets { return s.secrets }

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
