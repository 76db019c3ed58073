package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

// BackupRetention is how long Backup keeps older backups.
const BackupRetention = 30 * 24 * time.Hour

const backupPrefix, backupSuffix = "mapdrive-", ".db"

// Backup writes a consistent online copy of a SQLite database into dir
// (VACUUM INTO, which reads one snapshot while the service keeps
// serving), then deletes backups in dir older than retention. PostgreSQL
// and SQL Server are backed up with their own tools (pg_dump, Azure SQL
// automated backups); see docs/deploy-service.md.
func (s *Store) Backup(ctx context.Context, dir string, retention time.Duration) (string, []string, error) {
	if s.dialect != DialectSQLite {
		return "", nil, fmt.Errorf("backup: %s databases are backed up with pg_dump or Azure SQL backups, see docs/deploy-service.md", s.dialect)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	now := s.now().UTC()
	path := filepath.Join(dir, backupPrefix+now.Format("20060102T150405.000000000Z")+backupSuffix)
	if err := s.db.WithContext(ctx).Exec("VACUUM INTO ?", path).Error; err != nil {
		return "", nil, fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	removed, err := pruneBackups(dir, now.Add(-retention), path)
	return path, removed, err
}

func pruneBackups(dir string, before time.Time, keep string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("prune backups: %w", err)
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, backupPrefix) || !strings.HasSuffix(name, backupSuffix) {
			continue
		}
		stamp := strings.TrimSuffix(strings.TrimPrefix(name, backupPrefix), backupSuffix)
		t, err := time.Parse("20060102T150405.000000000Z", stamp)
		if err != nil || !t.Before(before) || filepath.Join(dir, name) == keep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return removed, fmt.Errorf("prune backup %s: %w", name, err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// BackupSummary describes a verified backup.
type BackupSummary struct {
	SchemaVersion int
	Tenants       int
	Mappings      int
}

// VerifyBackup restores a SQLite backup into a scratch copy, opens it with
// kek, and decrypts every tenant and mapping: a backup that passes can be
// restored by copying it over the database file.
func VerifyBackup(ctx context.Context, path string, kek crypto.KEK, log *slog.Logger) (BackupSummary, error) {
	var sum BackupSummary
	scratch, err := os.MkdirTemp("", "mapdrive-restore-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(scratch)
	data, err := os.ReadFile(path)
	if err != nil {
		return sum, fmt.Errorf("verify backup: %w", err)
	}
	restored := filepath.Join(scratch, "restored.db")
	if err := os.WriteFile(restored, data, 0o600); err != nil {
		return sum, fmt.Errorf("verify backup: %w", err)
	}
	st, err := Open(ctx, "sqlite:"+restored, kek, log, Options{})
	if err != nil {
		return sum, fmt.Errorf("verify backup %s: %w", path, err)
	}
	defer st.Close()
	if sum.SchemaVersion, err = st.AppliedVersion(ctx); err != nil {
		return sum, err
	}
	var res []map[string]any
	if err := st.db.WithContext(ctx).Raw("PRAGMA integrity_check").Scan(&res).Error; err != nil {
		return sum, fmt.Errorf("verify backup: integrity check: %w", err)
	}
	for _, r := range res {
		for _, v := range r {
			if fmt.Sprint(v) != "ok" {
				return sum, errors.New("verify backup: integrity check failed")
			}
		}
	}
	ts, err := st.Tenants(ctx)
	if err != nil {
		return sum, fmt.Errorf("verify backup: %w", err)
	}
	sum.Tenants = len(ts)
	for _, t := range ts {
		ms, err := st.Mappings(ctx, t.ID)
		if err != nil {
			return sum, fmt.Errorf("verify backup: %w", err)
		}
		sum.Mappings += len(ms)
	}
	return sum, nil
}
