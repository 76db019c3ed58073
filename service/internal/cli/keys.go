package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
)

func cmdKeys(ctx context.Context, args []string, opts Options) error {
	verb, rest, err := sub(args, "rotate")
	if err != nil {
		return err
	}
	fs, c := newFlags("keys "+verb, opts)
	reencrypt := fs.Bool("reencrypt", false, "also rotate every tenant's data key and re-encrypt its rows (online, in batches, resumable)")
	batch := fs.Int("batch", 100, "rows per transaction when re-encrypting")
	tenant := fs.String("tenant", "", "re-encrypt only this tenant")
	retireAfter := fs.Duration("retire-after", 75*time.Second, "wait this long after re-encrypting, for every replica's data-key cache (1 minute) to expire, before destroying old data keys")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	st, kek, err := c.open(ctx, c.logger(opts.Stderr), false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := kek.Rotate(ctx); err != nil {
		return fmt.Errorf("rotate %s KEK: %w", kek.Name(), err)
	}
	n, err := st.RewrapKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Stdout, "re-wrapped %d keys under the current %s KEK\n", n, kek.Name())
	if !*reencrypt {
		return nil
	}
	ids := []string{*tenant}
	if *tenant == "" {
		ts, err := st.Tenants(ctx)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
	}
	for _, id := range ids {
		start := time.Now()
		res, err := st.Reencrypt(ctx, id, *batch)
		if err != nil {
			return fmt.Errorf("%w (run again to resume)", err)
		}
		fmt.Fprintf(opts.Stdout, "tenant %s: data key v%d, %d rows re-encrypted in %s\n",
			id, res.Version, res.Rows, time.Since(start).Round(time.Millisecond))
	}
	if *retireAfter > 0 {
		fmt.Fprintf(opts.Stdout, "waiting %s for every replica to use the new data keys\n", *retireAfter)
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted before old keys were destroyed (run again to finish): %w", ctx.Err())
		case <-time.After(*retireAfter):
		}
	}
	for _, id := range ids {
		res, err := st.RetireOldKeys(ctx, id, *batch)
		if err != nil {
			return fmt.Errorf("%w (run again to resume)", err)
		}
		if res.StillOnOlder > 0 {
			fmt.Fprintf(opts.Stdout, "tenant %s: %d rows were written on an old key meanwhile; run again\n", id, res.StillOnOlder)
			continue
		}
		fmt.Fprintf(opts.Stdout, "tenant %s: %d late rows re-encrypted, %d old data keys destroyed\n", id, res.Rows, res.KeysRetired)
	}
	return nil
}

func cmdBackup(ctx context.Context, args []string, opts Options) error {
	if len(args) > 0 && args[0] == "verify" {
		fs, c := newFlags("backup verify", opts)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("want one backup file")
		}
		kek, err := c.openKEK()
		if err != nil {
			return err
		}
		sum, err := store.VerifyBackup(ctx, fs.Arg(0), kek, c.logger(opts.Stderr))
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.Stdout, "backup ok: schema v%d, %d tenants, %d mappings decrypted\n", sum.SchemaVersion, sum.Tenants, sum.Mappings)
		return nil
	}
	fs, c := newFlags("backup", opts)
	dir := fs.String("dir", "", "backup directory (default <data-dir>-backups, beside the data directory and apart from its key file)")
	retention := fs.Duration("retention", store.BackupRetention, "delete backups older than this")
	verify := fs.Bool("verify", true, "restore the new backup into a scratch copy and check it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Clean(c.dataDir) + "-backups"
	}
	if err := backupApartFromKey(*dir, c.localKEKPath()); err != nil {
		return err
	}
	st, kek, err := c.open(ctx, c.logger(opts.Stderr), false)
	if err != nil {
		return err
	}
	defer st.Close()
	path, removed, err := st.Backup(ctx, *dir, *retention)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Stdout, "backup written: %s (%d expired backups removed)\n", path, len(removed))
	if *verify {
		sum, err := store.VerifyBackup(ctx, path, kek, c.logger(opts.Stderr))
		if err != nil {
			return fmt.Errorf("backup %s does not verify: %w", path, err)
		}
		fmt.Fprintf(opts.Stdout, "backup verified: schema v%d, %d tenants, %d mappings decrypted\n", sum.SchemaVersion, sum.Tenants, sum.Mappings)
	}
	return nil
}

// backupApartFromKey refuses a backup directory in (or under) the
// directory of the local key file: whoever copies that folder would carry
// off the backups together with the only key that opens them.
func backupApartFromKey(dir, kekPath string) error {
	if kekPath == "" {
		return nil
	}
	bd, err1 := filepath.Abs(dir)
	kd, err2 := filepath.Abs(filepath.Dir(kekPath))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	if rel, err := filepath.Rel(kd, bd); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("backup --dir %s is inside %s, beside the key file %s; keep backups apart from the key: choose another --dir", dir, kd, kekPath)
	}
	return nil
}
