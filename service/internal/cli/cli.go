// Package cli is mapdrive-service's command line: serve, migrate, tenant
// and mapping administration, key rotation, backups, and the demo seed.
// main only calls Main.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
	"github.com/mapdrive/mapdrive/service/internal/portal"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/logredact"
)

// PortalFactory builds the portal handler; it is served under /portal/
// with the path prefix kept.
type PortalFactory func(ctx context.Context, d portal.Deps) (http.Handler, error)

// Options are what main wires in.
type Options struct {
	Portal PortalFactory // nil: no portal
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

const usage = `mapdrive-service: Mapdrive licensing and drive mappings.

Commands:
  serve                 run the HTTPS API (default https://localhost:8443)
  migrate               apply database migrations
  tenant add|set|list|delete   register tenants and set licences
  mapping add|list|delete      manage a tenant's drive mappings
  keys rotate [--reencrypt]    re-wrap data keys under a new KEK; rotate data keys
  backup [--verify]     online SQLite backup with 30-day retention
  backup verify FILE    restore a backup into a scratch copy and check it
  seed-demo             register the demo tenant contoso and its Finance mapping
  lease-key [--json]    print the lease signing public key, for the client's
                        lease_key (the MSI's LEASEKEY)

Common flags (or environment): --data-dir (MAPDRIVESVC_DATA_DIR), --db
(MAPDRIVESVC_DB), --kek (MAPDRIVESVC_KEK: local:<file> or azurekv:<key URL>).
Every setting's variable is MAPDRIVESVC_ and its flag's name in upper
snake case. Run "mapdrive-service <command> -h" for a command's flags.
`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, opts Options) int {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(opts.Stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func(context.Context, []string, Options) error{
		"serve": cmdServe, "migrate": cmdMigrate, "tenant": cmdTenant, "mapping": cmdMapping,
		"keys": cmdKeys, "backup": cmdBackup, "seed-demo": cmdSeedDemo,
		"lease-key": cmdLeaseKey,
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(opts.Stderr, "mapdrive-service: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := f(ctx, args[1:], opts); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(opts.Stderr, "mapdrive-service %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// common holds the flags every command has (settings.go declares them).
type common struct {
	dataDir, db, kek, kekIdentity, logLevel string
	allowLocalKEK                           bool
	flags                                   *cmdFlags // reports deprecated variables once, in logger
}

func (c *common) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	log := logredact.NewJSON(w, lvl)
	if c.flags != nil {
		c.flags.logDeprecated(log)
		c.flags = nil
	}
	return log
}

// localKEKPath returns the local key file the --kek flag names (its
// default included), or "" for a key held elsewhere.
func (c *common) localKEKPath() string {
	spec := c.kek
	if spec == "" {
		return filepath.Join(c.dataDir, "kek.json")
	}
	if p, ok := strings.CutPrefix(spec, "local:"); ok {
		return p
	}
	return ""
}

// checkKEKPlacement refuses a local key file with a server database unless
// --allow-local-kek: the database and its backups then live on a managed
// server while the one key that opens them sits in a file on the app host,
// where it is copied with the host's disks and backups. With SQLite it only
// warns, since database and key share one host by design there.
func (c *common) checkKEKPlacement(log *slog.Logger) error {
	path := c.localKEKPath()
	if path == "" {
		return nil
	}
	if addr := c.dbAddr(); strings.HasPrefix(addr, "sqlite:") {
		if log != nil {
			log.Warn("the key-encryption key is a local file beside the SQLite database; use --kek azurekv:<key URL> in production", "kek", path)
		}
		return nil
	}
	if !c.allowLocalKEK {
		return fmt.Errorf("--kek: a local key file (%s) with a PostgreSQL or SQL Server database keeps the only key to the data in a file on this host; "+
			"use --kek azurekv:https://<vault>.vault.azure.net/keys/<name>, or pass --allow-local-kek (MAPDRIVESVC_ALLOW_LOCAL_KEK=true) for a test", path)
	}
	return nil
}

func (c *common) openKEK() (crypto.KEK, error) {
	spec := c.kek
	if spec == "" {
		spec = "local:" + filepath.Join(c.dataDir, "kek.json")
	}
	switch {
	case strings.HasPrefix(spec, "local:"):
		if err := c.checkKEKPlacement(nil); err != nil {
			return nil, err
		}
		return crypto.OpenLocalKEK(strings.TrimPrefix(spec, "local:"))
	case strings.HasPrefix(spec, "azurekv:"):
		return crypto.NewAzureKEK(strings.TrimPrefix(spec, "azurekv:"), crypto.AzureKEKOptions{ManagedIdentityClientID: c.kekIdentity})
	}
	return nil, fmt.Errorf("--kek %q: want local:<file> or azurekv:<key URL>", spec)
}

func (c *common) dbAddr() string {
	if c.db != "" {
		return c.db
	}
	return "sqlite:" + filepath.Join(c.dataDir, "mapdrive.db")
}

// open opens the store; migrate applies pending migrations first.
func (c *common) open(ctx context.Context, log *slog.Logger, migrate bool) (*store.Store, crypto.KEK, error) {
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := c.checkKEKPlacement(log); err != nil {
		return nil, nil, err
	}
	kek, err := c.openKEK()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, c.dbAddr(), kek, log, store.Options{Migrate: migrate})
	if err != nil {
		return nil, nil, err
	}
	return st, kek, nil
}

// httpClient trusts the system roots plus caFile, if given.
func httpClient(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no certificate", caFile)
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute,
	}}, nil
}
