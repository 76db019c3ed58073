package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

// RewrapKeys re-wraps every data key and the server secret under the KEK's
// current version (after kek.Rotate, or a new key version in Key Vault).
// Only wrapped keys change; no row data is touched. It is idempotent, so
// an interrupted run is finished by running it again.
func (s *Store) RewrapKeys(ctx context.Context) (int, error) {
	db := s.db.WithContext(ctx)
	n := 0
	var sys []systemKeyRow
	if err := db.Find(&sys).Error; err != nil {
		return 0, fmt.Errorf("rewrap: read system keys: %w", err)
	}
	for _, r := range sys {
		kid, wrapped, err := s.rewrap(ctx, r.KEKID, r.Wrapped)
		if err != nil {
			return n, fmt.Errorf("rewrap system key %s: %w", r.Name, err)
		}
		if err := db.Model(&systemKeyRow{}).Where("name = ?", r.Name).Select("kek_id", "wrapped").Updates(&systemKeyRow{KEKID: kid, Wrapped: wrapped}).Error; err != nil {
			return n, fmt.Errorf("rewrap system key %s: %w", r.Name, err)
		}
		n++
	}
	var rows []tenantKeyRow
	if err := db.Order("tenant_id").Order("version").Find(&rows).Error; err != nil {
		return n, fmt.Errorf("rewrap: read data keys: %w", err)
	}
	for _, r := range rows {
		kid, wrapped, err := s.rewrap(ctx, r.KEKID, r.Wrapped)
		if err != nil {
			return n, fmt.Errorf("rewrap data key %d of %s: %w", r.Version, r.TenantID, err)
		}
		err = db.Model(&tenantKeyRow{}).Where("tenant_id = ? AND version = ?", r.TenantID, r.Version).
			Select("kek_id", "wrapped").Updates(&tenantKeyRow{KEKID: kid, Wrapped: wrapped}).Error
		if err != nil {
			return n, fmt.Errorf("rewrap data key %d of %s: %w", r.Version, r.TenantID, err)
		}
		s.keys.evict(r.TenantID)
		n++
	}
	return n, nil
}

func (s *Store) rewrap(ctx context.Context, kid string, wrapped []byte) (string, []byte, error) {
	raw, err := s.kek.Unwrap(ctx, kid, wrapped)
	if err != nil {
		return "", nil, err
	}
	return s.kek.Wrap(ctx, raw)
}

// encTable describes a table with encrypted columns, for re-encryption:
// columns maps the column name bound in the cell (crypto.Cell.Column) to
// the database column holding the ciphertext.
type encTable struct {
	name    string
	columns [][2]string
}

var encTables = []encTable{
	{"tenants", [][2]string{{"display_name", "display_name_enc"}}},
	{"tenant_domains", [][2]string{{"domain", "domain_enc"}}},
	{"mappings", [][2]string{{"display_name", "display_name_enc"}, {"mount_name", "mount_name_enc"}, {"site_url", "site_url_enc"},
		{"library_name", "library_enc"}, {"drive_id", "drive_id_enc"}, {"group_id", "group_id_enc"},
		{"folder_path", "folder_path_enc"}, {"members", "members_enc"}}},
	{"mapping_assignments", [][2]string{{"group_id", "group_enc"}}},
}

// ReencryptResult reports a re-encryption of one tenant.
type ReencryptResult struct {
	Version      uint32 // the data key version rows are now sealed with
	Rows         int    // rows re-encrypted by this run
	KeysRetired  int    // old data key versions destroyed (RetireOldKeys)
	StillOnOlder int    // rows still on an old key; run again
}

// Reencrypt rotates tenant tid's data key and re-encrypts its rows under
// the new version, online, batch rows per transaction. If an earlier run
// was interrupted (rows remain on older versions), it resumes with the
// current version instead of making another. Old versions stay: other
// replicas may still seal with them until their key cache expires
// (KeyCacheTTL); RetireOldKeys destroys them after that.
func (s *Store) Reencrypt(ctx context.Context, tid string, batch int) (ReencryptResult, error) {
	var res ReencryptResult
	db := s.db.WithContext(ctx)
	var maxV *uint32
	if err := db.Model(&tenantKeyRow{}).Where("tenant_id = ?", tid).Select("MAX(version)").Scan(&maxV).Error; err != nil {
		return res, fmt.Errorf("reencrypt %s: %w", tid, err)
	}
	if maxV == nil {
		return res, fmt.Errorf("reencrypt %s: %w", tid, ErrNotFound)
	}
	target := *maxV
	var versions int64
	if err := db.Model(&tenantKeyRow{}).Where("tenant_id = ?", tid).Count(&versions).Error; err != nil {
		return res, fmt.Errorf("reencrypt %s: %w", tid, err)
	}
	older, err := s.rowsBelow(ctx, tid, target)
	if err != nil {
		return res, err
	}
	if older == 0 && versions == 1 { // not a resumed run: make the new key
		target++
		if err := s.newTenantKey(ctx, db, tid, target); err != nil {
			return res, err
		}
	}
	return s.reencryptTo(ctx, tid, target, batch)
}

func (s *Store) reencryptTo(ctx context.Context, tid string, target uint32, batch int) (ReencryptResult, error) {
	if batch <= 0 {
		batch = 100
	}
	res := ReencryptResult{Version: target}
	newKey, err := s.keyVersion(ctx, s.db.WithContext(ctx), tid, target)
	if err != nil {
		return res, err
	}
	for _, t := range encTables {
		for {
			n, err := s.reencryptBatch(ctx, t, tid, newKey, batch)
			if err != nil {
				return res, fmt.Errorf("reencrypt %s of %s: %w", t.name, tid, err)
			}
			res.Rows += n
			if n < batch {
				break
			}
		}
	}
	s.cfg.evict(tid)
	if res.StillOnOlder, err = s.rowsBelow(ctx, tid, target); err != nil {
		return res, err
	}
	return res, nil
}

// RetireOldKeys finishes a rotation once every replica uses the newest
// data key (KeyCacheTTL after Reencrypt): it re-encrypts rows written
// meanwhile under an old version, then destroys the old versions if no
// row uses them.
func (s *Store) RetireOldKeys(ctx context.Context, tid string, batch int) (ReencryptResult, error) {
	db := s.db.WithContext(ctx)
	var maxV *uint32
	if err := db.Model(&tenantKeyRow{}).Where("tenant_id = ?", tid).Select("MAX(version)").Scan(&maxV).Error; err != nil || maxV == nil {
		return ReencryptResult{}, fmt.Errorf("retire keys of %s: %w", tid, errors.Join(err, ErrNotFound))
	}
	res, err := s.reencryptTo(ctx, tid, *maxV, batch)
	if err != nil || res.StillOnOlder > 0 {
		return res, err
	}
	del := db.Where("tenant_id = ? AND version < ?", tid, *maxV).Delete(&tenantKeyRow{})
	if del.Error != nil {
		return res, fmt.Errorf("retire old data keys of %s: %w", tid, del.Error)
	}
	res.KeysRetired = int(del.RowsAffected)
	s.keys.evict(tid)
	return res, nil
}

func (s *Store) rowsBelow(ctx context.Context, tid string, v uint32) (int, error) {
	total := 0
	for _, t := range encTables {
		var n int64
		col := "tenant_id"
		if t.name == "tenants" {
			col = "id"
		}
		if err := s.db.WithContext(ctx).Table(t.name).Where(col+" = ? AND key_version < ?", tid, v).Count(&n).Error; err != nil {
			return 0, fmt.Errorf("count %s rows on old keys: %w", t.name, err)
		}
		total += int(n)
	}
	return total, nil
}

// reencryptBatch re-seals up to batch rows of t still on an older key. A
// row is rewritten only if its key_version is unchanged since it was read,
// so a concurrent edit is never overwritten.
func (s *Store) reencryptBatch(ctx context.Context, t encTable, tid string, k *crypto.DataKey, batch int) (int, error) {
	done := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		tcol := "tenant_id"
		if t.name == "tenants" {
			tcol = "id"
		}
		var rows []map[string]any
		if err := tx.Table(t.name).Where(tcol+" = ? AND key_version < ?", tid, k.Version()).Order("id").Limit(batch).Find(&rows).Error; err != nil {
			return err
		}
		o := s.opener(ctx, tx, tid)
		for _, r := range rows {
			id := fmt.Sprint(r["id"])
			upd := map[string]any{"key_version": k.Version()}
			for _, cc := range t.columns {
				c, dbCol := cc[0], cc[1]
				ct, _ := r[dbCol].([]byte)
				if len(ct) == 0 {
					continue // NULL: a column added after the row was written (migration 8)
				}
				plain := o.open(t.name, c, id, ct)
				if o.err != nil {
					return o.err
				}
				nct, err := k.Seal([]byte(plain), crypto.Cell{Tenant: tid, Table: t.name, Column: c, Row: id})
				if err != nil {
					return err
				}
				upd[dbCol] = nct
			}
			res := tx.Table(t.name).Where("id = ? AND key_version = ?", id, r["key_version"]).Updates(upd)
			if res.Error != nil {
				return res.Error
			}
			done += int(res.RowsAffected)
		}
		return nil
	})
	return done, err
}
