package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/cloud"
)

// This file is the one table of mapdrive-service's settings: every flag
// that an environment variable can also set, its default and its help.
// The flags, the help text, the environment binding and the table in
// docs/deploy-service.md (TestSettingsDoc) all come from it.
//
// Precedence, highest first: the flag, MAPDRIVESVC_<NAME>, the variable's
// old MAPDRIVE_ name (with a warning, for one release), the default.

// EnvPrefix starts every environment variable mapdrive-service reads. It
// is not the desktop client's MAPDRIVE_: the two read settings of the same
// names (client id, authority, Graph URL, log level) that mean different
// things, and one shell (demo/env.sh) or one host may set both.
const EnvPrefix = "MAPDRIVESVC_"

// setting is one flag and the environment variable that sets it when the
// flag is absent: EnvPrefix and the flag's name in upper snake case
// (--client-id: MAPDRIVESVC_CLIENT_ID).
type setting struct {
	name  string     // flag name
	value flag.Value // where the value goes; holds the default when declared
	usage string
	// old is the variable releases up to 0.1 read instead, honoured with
	// a warning until the next release; "" if none.
	old string
}

// env returns the setting's environment variable.
func (s setting) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

// settings are the flags every command has.
func (c *common) settings() []setting {
	return []setting{
		{"data-dir", str(&c.dataDir, "mapdrive-service-data"), "directory for the SQLite database, local key file and dev TLS certificate", "MAPDRIVE_SERVICE_DATA"},
		{"db", str(&c.db, ""), "database: sqlite:<file>, postgres://..., sqlserver://... (default sqlite:<data-dir>/mapdrive.db)", "MAPDRIVE_DB"},
		{"kek", str(&c.kek, ""), "key-encryption key: local:<file> (default local:<data-dir>/kek.json) or azurekv:https://<vault>.vault.azure.net/keys/<name>", "MAPDRIVE_KEK"},
		{"allow-local-kek", boolean(&c.allowLocalKEK, false), "accept a local key file with PostgreSQL or SQL Server (the key then sits on the app host, outside any key vault; for tests and evaluations)", "MAPDRIVE_ALLOW_LOCAL_KEK"},
		{"kek-identity", str(&c.kekIdentity, ""), "client ID of the user-assigned managed identity for Key Vault (default: system-assigned)", "MAPDRIVE_KEK_IDENTITY"},
		{"log-level", str(&c.logLevel, "info"), "debug, info, warn or error", "MAPDRIVE_LOG_LEVEL"},
	}
}

// serveFlags are serve's own settings.
type serveFlags struct {
	listen, metricsListen, publicURL, certFile, keyFile string
	plainHTTP, migrate                                  bool
	cloud, authority, authorityCA, v1Issuer, jwksURL    string
	graphURL                                            string
	v2Issuer, graphScope                                string // from the cloud (and the authority)
	clientID, clientSecretFile                          string
	audiences, trustedProxies                           stringList
	rateLimit                                           float64
	rateBurst                                           int
	maxBody                                             int64
	leaseTTL, grace                                     time.Duration
	desktopClientID, msiDir, msiURL                     string // for the portal
}

func (f *serveFlags) settings() []setting {
	return []setting{
		{"listen", str(&f.listen, "localhost:8443"), "address to listen on", "MAPDRIVE_LISTEN"},
		{"metrics-listen", str(&f.metricsListen, "127.0.0.1:9464"), `address of the plain-HTTP Prometheus /metrics listener, kept off the public one; loopback by default, "off" disables it`, "MAPDRIVE_METRICS_LISTEN"},
		{"public-url", str(&f.publicURL, "https://localhost:8443"), "external base URL (portal redirects)", "MAPDRIVE_PUBLIC_URL"},
		{"tls-cert", str(&f.certFile, ""), "TLS certificate chain (PEM); default: a dev certificate in the data dir, its CA in ca.pem", "MAPDRIVE_TLS_CERT"},
		{"tls-key", str(&f.keyFile, ""), "TLS private key (PEM)", "MAPDRIVE_TLS_KEY"},
		{"plain-http", boolean(&f.plainHTTP, false), "serve plain HTTP: ONLY behind a platform ingress that terminates TLS 1.2+ (Azure Container Apps)", "MAPDRIVE_PLAIN_HTTP"},
		{"cloud", str(&f.cloud, cloud.Default), "the Microsoft cloud the tenants are in: " + strings.Join(cloud.Names(), ", ") + "; it gives the defaults of authority, v1-issuer-host and graph-url", ""},
		{"authority", str(&f.authority, ""), "identity platform base URL (default: the cloud's, e.g. https://login.microsoftonline.com; m365sim: https://localhost:9443)", "MAPDRIVE_AUTHORITY"},
		{"authority-ca", str(&f.authorityCA, ""), "extra CA (PEM) to trust for the authority and Graph, e.g. m365sim's ca.pem", "MAPDRIVE_AUTHORITY_CA"},
		{"v1-issuer-host", str(&f.v1Issuer, ""), "host of the v1.0 token issuer, <host>/<tid>/ (default: the cloud's, e.g. https://sts.windows.net)", "MAPDRIVE_V1_ISSUER_HOST"},
		{"jwks-url", str(&f.jwksURL, ""), "JWKS URL (default <authority>/common/discovery/v2.0/keys)", "MAPDRIVE_JWKS_URL"},
		{"graph-url", str(&f.graphURL, ""), "Graph base URL (default: the cloud's, e.g. https://graph.microsoft.com/v1.0; m365sim: <its URL>/v1.0)", "MAPDRIVE_GRAPH_URL"},
		{"client-id", str(&f.clientID, ""), "the service API's app (client) ID, not the desktop app's (required; docs/entra-app-registration.md)", "MAPDRIVE_CLIENT_ID"},
		{"client-secret-file", str(&f.clientSecretFile, ""), "file holding the app's client secret (on-behalf-of group lookup, portal sign-in)", "MAPDRIVE_CLIENT_SECRET_FILE"},
		{"audience", &f.audiences, "accepted token audience, repeatable; comma-separated in the environment (default: --client-id and api://<client-id>, the App ID URI Entra proposes)", "MAPDRIVE_AUDIENCES"},
		{"migrate", boolean(&f.migrate, true), "apply pending database migrations at start (false: run `migrate` as a separate release step)", "MAPDRIVE_MIGRATE"},
		{"trusted-proxies", &f.trustedProxies, "CIDRs of the proxies (the platform ingress) whose X-Forwarded-For names the client, for the refused-sign-in limit; repeatable, comma-separated in the environment (default none: the peer is the client)", ""},
		{"rate-limit", number(&f.rateLimit, 50, "float", parseFloat), "requests per second per tenant, per replica", ""},
		{"rate-burst", number(&f.rateBurst, 100, "int", strconv.Atoi), "burst per tenant", ""},
		{"max-body", number(&f.maxBody, 64<<10, "int", parseInt64), "request body limit in bytes", ""},
		{"lease-ttl", number(&f.leaseTTL, 7*24*time.Hour, "duration", time.ParseDuration), "lifetime of licence leases", ""},
		{"shutdown-grace", number(&f.grace, 20*time.Second, "duration", time.ParseDuration), "time in-flight requests get at shutdown", ""},
		{"desktop-client-id", str(&f.desktopClientID, ""), "the desktop app's client ID, shown by the portal's deployment page as CLIENTID and used in its admin-consent link (default: none; the portal says it is not configured)", "MAPDRIVE_DESKTOP_CLIENT_ID"},
		{"msi-dir", str(&f.msiDir, ""), "folder holding mapdrive-<version>-x64.msi, served by the portal at /portal/download/", "MAPDRIVE_MSI_DIR"},
		{"msi-url", str(&f.msiURL, ""), "URL the portal's deployment page links for the MSI instead", "MAPDRIVE_MSI_URL"},
	}
}

// check reports a setting serve cannot run without, saying what to set,
// how and where to find the value. There are no built-in identities:
// a default would be some other organisation's (or the simulator's)
// registration, and every user would be refused as "wrong audience".
func (f *serveFlags) check() error {
	cl, err := cloud.Lookup(f.cloud)
	if err != nil {
		return fmt.Errorf("--cloud: %w", err)
	}
	// The cloud gives every endpoint not set. A custom authority (the
	// simulator, a private test instance) issues v2.0 tokens under its
	// own host; nothing is derived from its host name.
	f.v2Issuer = cl.V2IssuerHost
	if f.authority == "" {
		f.authority = cl.AuthorityHost
	} else if strings.TrimSuffix(f.authority, "/") != cl.AuthorityHost {
		f.v2Issuer = f.authority
	}
	if f.v1Issuer == "" {
		f.v1Issuer = cl.V1IssuerHost
	}
	if f.graphURL == "" {
		f.graphURL = cl.GraphURL
	}
	f.graphScope = cl.GraphResource() + "/.default"
	if f.clientID == "" {
		var s setting
		for _, x := range f.settings() {
			if x.name == "client-id" {
				s = x
			}
		}
		return fmt.Errorf("the service API's client id is not set: set --%s or %s to the Application (client) ID "+
			"of your \"Mapdrive Service\" app registration (see docs/entra-app-registration.md, step 1; "+
			"docs/deploy-service.md lists every setting)", s.name, s.env())
	}
	return nil
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
func parseInt64(s string) (int64, error)   { return strconv.ParseInt(s, 10, 64) }

// value is a typed flag.Value; the flag package's own are unexported.
type value[T any] struct {
	p     *T
	kind  string // shown in the help: string, bool, int, float, duration
	parse func(string) (T, error)
}

func (v value[T]) String() string {
	if v.p == nil {
		return ""
	}
	return fmt.Sprint(*v.p)
}

func (v value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// IsBoolFlag lets a bool flag stand alone (--plain-http).
func (v value[T]) IsBoolFlag() bool { return v.kind == "bool" }

func (v value[T]) typeName() string { return v.kind }

// number declares a setting of type T with its default.
func number[T any](p *T, def T, kind string, parse func(string) (T, error)) flag.Value {
	*p = def
	return value[T]{p: p, kind: kind, parse: parse}
}

func str(p *string, def string) flag.Value {
	return number(p, def, "string", func(s string) (string, error) { return s, nil })
}

func boolean(p *bool, def bool) flag.Value { return number(p, def, "bool", strconv.ParseBool) }

// stringList is a repeatable flag; its variable holds a comma-separated list.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
func (s *stringList) typeName() string   { return "list" }

// cmdFlags is a command's flag set: the settings from the table, which
// the environment can set, and the command's own flags, which it cannot.
type cmdFlags struct {
	*flag.FlagSet
	settings []setting
	lookup   func(string) (string, bool)
	// fromOld lists the old variables Parse took values from, and
	// ignored those it passed over for their new name; common.logger
	// reports both.
	fromOld, ignored []string
}

// add registers settings as flags.
func (f *cmdFlags) add(ss ...setting) {
	for _, s := range ss {
		f.Var(s.value, s.name, s.usage)
	}
	f.settings = append(f.settings, ss...)
}

// Parse parses the command line, then sets each setting whose flag was
// not given from its environment variable.
func (f *cmdFlags) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, s := range f.settings {
		if given[s.name] {
			continue
		}
		name := s.env()
		v, _ := f.lookup(name)
		if s.old != "" {
			if old, _ := f.lookup(s.old); old != "" && v != "" {
				f.ignored = append(f.ignored, s.old)
			} else if old != "" {
				name, v = s.old, old
				f.fromOld = append(f.fromOld, s.old)
			}
		}
		if v == "" {
			continue
		}
		if err := setFromEnv(s.value, v); err != nil {
			return fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return nil
}

func setFromEnv(v flag.Value, s string) error {
	if _, ok := v.(*stringList); !ok {
		return v.Set(s)
	}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			if err := v.Set(part); err != nil {
				return err
			}
		}
	}
	return nil
}

// logDeprecated warns about each old variable the command read or passed
// over, by name only: values may be secrets (a DSN with a password).
func (f *cmdFlags) logDeprecated(log *slog.Logger) {
	news := map[string]string{}
	for _, s := range f.settings {
		news[s.old] = s.env()
	}
	for _, old := range f.fromOld {
		log.Warn("deprecated environment variable: rename it; the old name stops working in the next release",
			"old", old, "new", news[old])
	}
	for _, old := range f.ignored {
		log.Warn("environment variable ignored: its new name is set too, and wins; the old name may be the desktop client's setting",
			"old", old, "new", news[old])
	}
}

// usage prints the command's flags: each setting with its variable and
// default, then the command's own flags.
func (f *cmdFlags) usage() {
	w := f.Output()
	fmt.Fprintf(w, "Usage: mapdrive-service %s [flags]\n\n", f.Name())
	inTable := map[string]setting{}
	for _, s := range f.settings {
		inTable[s.name] = s
	}
	var own []*flag.Flag
	f.VisitAll(func(fl *flag.Flag) {
		if _, ok := inTable[fl.Name]; !ok {
			own = append(own, fl)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "Flags:")
		for _, fl := range own {
			printFlag(w, fl, "")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Settings (a flag wins over its environment variable):")
	for _, s := range f.settings {
		printFlag(w, f.Lookup(s.name), s.env())
	}
}

func printFlag(w io.Writer, fl *flag.Flag, env string) {
	kind, usage := flag.UnquoteUsage(fl)
	if t, ok := fl.Value.(interface{ typeName() string }); ok {
		kind = t.typeName()
	}
	fmt.Fprintf(w, "  --%s", fl.Name)
	if kind != "bool" {
		fmt.Fprintf(w, " %s", kind)
	}
	if env != "" {
		fmt.Fprintf(w, "  (%s)", env)
	}
	fmt.Fprintf(w, "\n    \t%s", usage)
	if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
		fmt.Fprintf(w, " (default %q)", fl.DefValue)
	}
	fmt.Fprintln(w)
}

// settingsDoc renders serve's settings as the Markdown table in
// docs/deploy-service.md.
func settingsDoc() string {
	var c common
	var s serveFlags
	var b strings.Builder
	b.WriteString("| Flag | Environment | Default | Meaning | Old name (deprecated) |\n|---|---|---|---|---|\n")
	md := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;")
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	for _, set := range slices.Concat(c.settings(), s.settings()) {
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", set.name, set.env(), code(set.value.String()), md.Replace(set.usage), code(set.old))
	}
	return b.String()
}
