package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

const serverSecretName = "server-secret/v1"

// loadSecrets unwraps the server secret, creating it on first start. Two
// replicas starting together race on the insert; the loser reads the
// winner's row.
func (s *Store) loadSecrets(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	var row systemKeyRow
	err := db.Where("name = ?", serverSecretName).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		secret, kerr := crypto.NewKey()
		if kerr != nil {
			return kerr
		}
		kid, wrapped, werr := s.kek.Wrap(ctx, secret)
		if werr != nil {
			return fmt.Errorf("wrap server secret: %w", werr)
		}
		row = systemKeyRow{Name: serverSecretName, KEKID: kid, Wrapped: wrapped, CreatedAt: s.now().UTC()}
		if cerr := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; cerr != nil {
			return fmt.Errorf("store server secret: %w", cerr)
		}
		err = db.Where("name = ?", serverSecretName).Take(&row).Error
	}
	if err != nil {
		return fmt.Errorf("read server secret: %w", err)
	}
	secret, err := s.kek.Unwrap(ctx, row.KEKID, row.Wrapped)
	if err != nil {
		return fmt.Errorf("unwrap server secret with %s KEK: %w", s.kek.Name(), err)
	}
	sec, err := crypto.NewSecrets(secret)
	if err != nil {
		return err
	}
	sk, err := deriveSessionKey(secret)
	if err != nil {
		return err
	}
	s.secrets, s.sessionKey = sec, sk
	return nil
}

// keyCache caches unwrapped tenant data keys for the store's TTL.
type keyCache struct {
	mu      sync.Mutex // guards tenants
	tenants map[string]*tenantKeys
}

type tenantKeys struct {
	loaded  time.Time
	current *crypto.DataKey
	all     map[uint32]*crypto.DataKey
}

func (c *keyCache) init() { c.tenants = map[string]*tenantKeys{} }

func (c *keyCache) evict(tid string) {
	c.mu.Lock()
	delete(c.tenants, tid)
	c.mu.Unlock()
}

// tenantKeysFor returns tid's data keys, from the cache or unwrapped from
// the database.
func (s *Store) tenantKeysFor(ctx context.Context, db *gorm.DB, tid string, fresh bool) (*tenantKeys, error) {
	if !fresh {
		s.keys.mu.Lock()
		tk := s.keys.tenants[tid]
		s.keys.mu.Unlock()
		if tk != nil && s.now().Sub(tk.loaded) < s.keyTTL {
			return tk, nil
		}
	}
	var rows []tenantKeyRow
	if err := db.WithContext(ctx).Where("tenant_id = ?", tid).Order("version").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read data keys of tenant %s: %w", tid, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("data key of tenant %s: %w", tid, ErrNotFound)
	}
	tk := &tenantKeys{loaded: s.now(), all: map[uint32]*crypto.DataKey{}}
	for _, r := range rows {
		raw, err := s.kek.Unwrap(ctx, r.KEKID, r.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("unwrap data key %d of tenant %s: %w", r.Version, tid, err)
		}
		k, err := crypto.NewDataKey(r.Version, raw)
		if err != nil {
			return nil, err
		}
		tk.all[r.Version] = k
		tk.current = k // rows are ordered by version
	}
	s.keys.mu.Lock()
	s.keys.tenants[tid] = tk
	s.keys.mu.Unlock()
	return tk, nil
}

// currentKey returns the data key new ciphertext of tid is sealed with.
func (s *Store) currentKey(ctx context.Context, db *gorm.DB, tid string) (*crypto.DataKey, error) {
	tk, err := s.tenantKeysFor(ctx, db, tid, false)
	if err != nil {
		return nil, err
	}
	return tk.current, nil
}

// keyVersion returns version v of tid's data key, reloading once if this
// replica has not seen it yet (another replica rotated).
func (s *Store) keyVersion(ctx context.Context, db *gorm.DB, tid string, v uint32) (*crypto.DataKey, error) {
	tk, err := s.tenantKeysFor(ctx, db, tid, false)
	if err != nil {
		return nil, err
	}
	if k := tk.all[v]; k != nil {
		return k, nil
	}
	if tk, err = s.tenantKeysFor(ctx, db, tid, true); err != nil {
		return nil, err
	}
	if k := tk.all[v]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("data key %d of tenant %s: %w", v, tid, ErrNotFound)
}

// newTenantKey creates data key version v of tid, wrapped by the KEK.
func (s *Store) newTenantKey(ctx context.Context, tx *gorm.DB, tid string, v uint32) error {
	raw, err := crypto.NewKey()
	if err != nil {
		return err
	}
	kid, wrapped, err := s.kek.Wrap(ctx, raw)
	if err != nil {
		return fmt.Errorf("wrap data key of tenant %s: %w", tid, err)
	}
	row := tenantKeyRow{TenantID: tid, Version: v, KEKID: kid, Wrapped: wrapped, CreatedAt: s.now().UTC()}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("store data key of tenant %s: %w", tid, err)
	}
	s.keys.evict(tid)
	return nil
}

// sealer encrypts the cells of one row.
type sealer struct {
	key   *crypto.DataKey
	tid   string
	table string
	row   string
	err   error
}

func (s *Store) sealer(ctx context.Context, db *gorm.DB, tid, table, row string) *sealer {
	k, err := s.currentKey(ctx, db, tid)
	return &sealer{key: k, tid: tid, table: table, row: row, err: err}
}

// seal encrypts one column's value; the first error sticks in z.err.
func (z *sealer) seal(column, plain string) []byte {
	if z.err != nil {
		return nil
	}
	ct, err := z.key.Seal([]byte(plain), crypto.Cell{Tenant: z.tid, Table: z.table, Column: column, Row: z.row})
	if err != nil {
		z.err = err
	}
	return ct
}

// opener decrypts the cells of rows of one tenant.
type opener struct {
	s   *Store
	ctx context.Context
	db  *gorm.DB
	tid string
	err error
}

func (s *Store) opener(ctx context.Context, db *gorm.DB, tid string) *opener {
	return &opener{s: s, ctx: ctx, db: db, tid: tid}
}

func (o *opener) open(table, column, row string, ct []byte) string {
	if o.err != nil {
		return ""
	}
	v, err := crypto.CiphertextVersion(ct)
	if err != nil {
		o.err = fmt.Errorf("%s.%s of %s: %w", table, column, row, err)
		return ""
	}
	k, err := o.s.keyVersion(o.ctx, o.db, o.tid, v)
	if err != nil {
		o.err = err
		return ""
	}
	plain, err := k.Open(ct, crypto.Cell{Tenant: o.tid, Table: table, Column: column, Row: row})
	if err != nil {
		o.err = fmt.Errorf("%s.%s of %s: %w", table, column, row, err)
		return ""
	}
	return string(plain)
}
