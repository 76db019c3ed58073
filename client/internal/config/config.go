// Package config loads the client's settings from four sources, highest
// precedence first: command-line flags, MAPDRIVE_* environment variables,
// machine policy (the registry key HKLM\SOFTWARE\Policies\Mapdrive on
// Windows, /etc/mapdrive/config.toml on Linux, and
// /Library/Application Support/Mapdrive/config.toml on macOS, a plain TOML
// file instead of a managed plist so one parser serves every platform), and
// the user's config file (TOML, in the OS's per-user config directory).
// Policy beats the user's own settings, as IT expects of a policy; flags
// and the environment are for whoever runs the program by hand.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mapdrive/mapdrive/shared/cloud"
)

// Defaults for Microsoft 365 (the public cloud).
const (
	DefaultAuthority    = "https://login.microsoftonline.com/organizations"
	DefaultGraphURL     = "https://graph.microsoft.com/v1.0"
	DefaultPollInterval = 30 * time.Second
	// DefaultRefreshInterval is how often the agent asks the service for
	// the licence and mappings and Graph for the drive list.
	DefaultRefreshInterval = 5 * time.Minute
	// MinRefreshInterval keeps a typo from hammering the service.
	MinRefreshInterval = 30 * time.Second
	// MaxStartJitter keeps a typo from holding a machine's drives back for
	// hours: the service's policy has the same bound.
	MaxStartJitter = time.Hour
)

// There is no default client_id or service_scope: each organisation (or
// the vendor hosting the service) registers its own apps, and a built-in
// id would be someone else's registration, or the simulator's. Check says
// what to set instead.

// Source is where a setting's value came from.
type Source int

// Sources, lowest precedence first.
const (
	FromDefault Source = iota
	FromFile
	FromPolicy
	FromEnv
	FromFlag
)

func (s Source) String() string {
	return [...]string{"default", "user config file", "machine policy", "environment", "flag"}[s]
}

// Config is the client's configuration. It is a plain value: build it with
// Load and pass it to constructors.
type Config struct {
	Cloud        string        // the Microsoft cloud (shared/cloud): defaults of Authority and GraphURL
	Authority    string        // Entra authority URL, e.g. https://login.microsoftonline.com/organizations
	ClientID     string        // the public client's application id
	TenantID     string        // optional: pin sign-in to one tenant
	GraphURL     string        // Graph base, e.g. https://graph.microsoft.com/v1.0
	ServiceURL   string        // mapdrive-service base URL; empty: no service (no licence checks)
	ServiceScope string        // scope of the service's API
	LeaseKey     string        // pinned lease public key(s) (lease.EncodePublicKey), separated by commas (or semicolons) while the service rotates; empty: pin on first use
	CAFile       string        // extra CA bundle (PEM) trusted for all HTTPS
	CacheMaxGB   float64       // content cache bound; 0: default (10% of free disk, at most 20)
	PollInterval time.Duration // remote change polling
	// RefreshInterval is how often licence, mappings and drives are refreshed.
	RefreshInterval time.Duration
	// StartJitter bounds the random delay before the first call at start
	// while no lease has stored the tenant's start-jitter policy: a new
	// machine's first boot, where only machine policy can spread it.
	StartJitter time.Duration
	Autostart   bool   // start at login
	MountRoot   string // where drives mount by default (not used for drive letters)
	Socket      string // local API socket or pipe; empty: ipc.DefaultPath
	StateDir    string // lease, mappings and other agent state
	CacheDir    string // content and metadata caches
	LogLevel    string // debug, info, warn, error

	// Sources records where each key's value came from.
	Sources map[string]Source
	// UserFile is the user config file consulted (it may not exist).
	UserFile string
}

// EnvName returns the environment variable for key: MAPDRIVE_<KEY>.
func EnvName(key string) string { return "MAPDRIVE_" + strings.ToUpper(key) }

// Loader reads the sources. The zero value is not useful; use NewLoader,
// or fill the fields in tests.
type Loader struct {
	// LookupEnv reads the environment (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// UserFile is the user's TOML file.
	UserFile string
	// Policy returns the machine policy's raw values.
	Policy func() (map[string]string, error)
	// Home is the user's home directory, for defaults.
	Home string
}

// NewLoader returns a Loader over the real environment, files and policy.
// userFile overrides the user file's path when not empty (the --config flag).
func NewLoader(userFile string) Loader {
	if userFile == "" {
		userFile = DefaultUserFile()
	}
	home, _ := os.UserHomeDir()
	return Loader{LookupEnv: os.LookupEnv, UserFile: userFile, Policy: machinePolicy, Home: home}
}

// DefaultUserFile is <user config dir>/mapdrive/config.toml: under
// $XDG_CONFIG_HOME (~/.config) on Linux, %AppData% on Windows, and
// ~/Library/Application Support on macOS.
func DefaultUserFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "mapdrive", "config.toml")
}

// Load merges defaults, the user file, policy, the environment and flags
// (raw values keyed like Keys), in rising precedence.
func (l Loader) Load(flags map[string]string) (Config, error) {
	c := l.defaults()
	c.Sources = make(map[string]Source, len(Keys))
	for _, k := range Keys {
		c.Sources[k] = FromDefault
	}
	c.UserFile = l.UserFile

	if l.UserFile != "" {
		raw, err := ReadFile(l.UserFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Config{}, err
		}
		if err := c.apply(raw, FromFile, l.UserFile); err != nil {
			return Config{}, err
		}
	}
	if l.Policy != nil {
		pol, err := l.Policy()
		if err != nil {
			return Config{}, fmt.Errorf("read machine policy: %w", err)
		}
		if err := c.apply(pol, FromPolicy, "machine policy"); err != nil {
			return Config{}, err
		}
	}
	env := map[string]string{}
	if l.LookupEnv != nil {
		for _, k := range Keys {
			if v, ok := l.LookupEnv(EnvName(k)); ok && v != "" {
				env[k] = v
			}
		}
	}
	if err := c.apply(env, FromEnv, "the environment"); err != nil {
		return Config{}, err
	}
	if err := c.apply(flags, FromFlag, "the command line"); err != nil {
		return Config{}, err
	}
	if err := c.applyCloud(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// applyCloud gives the authority and the Graph URL the configured cloud's
// endpoints, where no layer set them: a national cloud is one setting,
// and nothing is guessed from another URL's host.
func (c *Config) applyCloud() error {
	cl, err := cloud.Lookup(c.Cloud)
	if err != nil {
		return fmt.Errorf("cloud (from %s): %w", c.Sources["cloud"], err)
	}
	c.Cloud = cl.Name
	if c.Sources["authority"] == FromDefault {
		c.Authority = cl.AuthorityHost + "/organizations"
	}
	if c.Sources["graph_url"] == FromDefault {
		c.GraphURL = cl.GraphURL
	}
	return nil
}

func (l Loader) defaults() Config {
	c := Config{
		Authority:       DefaultAuthority,
		GraphURL:        DefaultGraphURL,
		PollInterval:    DefaultPollInterval,
		RefreshInterval: DefaultRefreshInterval,
		LogLevel:        "info",
	}
	if l.Home != "" {
		c.MountRoot = filepath.Join(l.Home, "Mapdrive")
		c.StateDir = defaultStateDir(l.Home)
		c.CacheDir = defaultCacheDir(l.Home)
	}
	return c
}

func defaultStateDir(home string) string {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "Mapdrive", "state")
		}
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Mapdrive", "state")
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mapdrive")
	}
	return filepath.Join(home, ".local", "state", "mapdrive")
}

func defaultCacheDir(home string) string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mapdrive")
	}
	return filepath.Join(home, ".cache", "mapdrive")
}

// ReadFile reads a TOML config file into raw values. Unknown keys are an
// error, so a typo does not pass silently.
func ReadFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file %s: %w", path, err)
	}
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("config file %s is not valid TOML: %w; fix the line it names", path, err)
	}
	raw := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			raw[k] = v
		case int64, float64, bool:
			raw[k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("config file %s: %s must be a string, number or boolean, not %T", path, k, v)
		}
	}
	return raw, nil
}

// apply parses raw values from one source into c.
func (c *Config) apply(raw map[string]string, src Source, where string) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := c.set(k, strings.TrimSpace(raw[k])); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		c.Sources[k] = src
	}
	return nil
}

func (c *Config) set(key, v string) error {
	str := map[string]*string{
		"cloud": &c.Cloud, "authority": &c.Authority, "client_id": &c.ClientID, "tenant_id": &c.TenantID,
		"graph_url": &c.GraphURL, "service_url": &c.ServiceURL, "service_scope": &c.ServiceScope,
		"lease_key": &c.LeaseKey, "ca_file": &c.CAFile, "mount_root": &c.MountRoot,
		"socket": &c.Socket, "state_dir": &c.StateDir, "cache_dir": &c.CacheDir, "log_level": &c.LogLevel,
	}
	if p, ok := str[key]; ok {
		if strings.HasSuffix(key, "_url") || key == "authority" {
			v = strings.TrimRight(v, "/")
			if err := checkURL(key, v); err != nil {
				return err
			}
		}
		*p = v
		return nil
	}
	switch key {
	case "cache_max_gb":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cache_max_gb = %q: want a number of gigabytes, such as 20", v)
		}
		c.CacheMaxGB = f
	case "poll_interval":
		d, err := parseDuration(v)
		if err != nil {
			return fmt.Errorf("poll_interval = %q: want a duration such as 30s or 2m", v)
		}
		c.PollInterval = d
	case "refresh_interval":
		d, err := parseDuration(v)
		if err != nil || d < MinRefreshInterval {
			return fmt.Errorf("refresh_interval = %q: want a duration of at least %v, such as 5m or 1h", v, MinRefreshInterval)
		}
		c.RefreshInterval = d
	case "start_jitter":
		d, err := parseDuration(v)
		if v == "0" || v == "0s" {
			d, err = 0, nil // no delay: unlike an interval, zero means something
		}
		if err != nil || d > MaxStartJitter {
			return fmt.Errorf("start_jitter = %q: want a duration from 0s to %v, such as 90s or 5m", v, MaxStartJitter)
		}
		c.StartJitter = d
	case "autostart":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("autostart = %q: want true or false", v)
		}
		c.Autostart = b
	default:
		return fmt.Errorf("unknown setting %q; known settings are %s", key, strings.Join(Keys, ", "))
	}
	return nil
}

// checkURL accepts an https URL, or an http one to a loopback host for
// development. These URLs receive bearer tokens (Graph, the service) or
// issue them (the authority), so plain http elsewhere would send them in
// clear to anyone on the path.
func checkURL(key, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s = %q is not a URL; write it as https://host/path", key, v)
	}
	if u.User != nil {
		return fmt.Errorf("%s = %q carries a user name or password; remove it (sign-in is by Microsoft 365 account)", key, v)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s = %q uses plain http, which would send sign-in tokens in clear; use https://%s (plain http is accepted only for 127.0.0.1, ::1 or localhost, for development)",
			key, v, strings.TrimPrefix(v, "http://"))
	}
	return nil
}

// isLoopback reports whether host (no port, no brackets) is localhost or
// a loopback address (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// Configured reports whether the client has the minimum it needs to sign
// in: a client id (there is no built-in one).
func (c Config) Configured() bool { return c.ClientID != "" }

// DocRegistration is the page that says where each identity setting's
// value comes from.
const DocRegistration = "docs/entra-app-registration.md"

// MissingError is a setting the client needs and has in no source.
type MissingError struct {
	Key  string // config key, e.g. client_id
	What string // what the value is, and where the admin finds it
	Why  string // when the setting is needed; "" if always
	// UserFile is the user config file, one of the places to set it.
	UserFile string
}

// msiProperty is the installer property that writes key to the policy.
var msiProperty = map[string]string{"client_id": "CLIENTID", "service_scope": "SERVICESCOPE"}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Mapdrive is not configured: %s is not set", e.Key)
	if e.Why != "" {
		fmt.Fprintf(&b, " (%s)", e.Why)
	}
	fmt.Fprintf(&b, ". It is %s. Set it as %s = \"…\" in the machine policy (%s", e.What, e.Key, PolicyFile())
	if p := msiProperty[e.Key]; p != "" {
		fmt.Fprintf(&b, ", or the installer property %s", p)
	}
	b.WriteString(")")
	if e.UserFile != "" {
		fmt.Fprintf(&b, " or in %s", e.UserFile)
	}
	fmt.Fprintf(&b, ", or with %s or --%s. See %s.", EnvName(e.Key), strings.ReplaceAll(e.Key, "_", "-"), DocRegistration)
	return b.String()
}

// Check returns a *MissingError for the first setting the client needs
// and lacks, or nil: client_id always, and service_scope when service_url
// is set (the token for the service is asked for with that scope).
func (c Config) Check() error {
	switch {
	case c.ClientID == "":
		return &MissingError{Key: "client_id", UserFile: c.UserFile,
			What: "the Application (client) ID of your organisation's \"Mapdrive\" app registration; your IT administrator has it"}
	case c.ServiceURL != "" && c.ServiceScope == "":
		return &MissingError{Key: "service_scope", UserFile: c.UserFile, Why: "service_url is set",
			What: "the delegated scope of the Mapdrive service's API, api://<Mapdrive Service application id>/Mapdrive.Access"}
	}
	return nil
}

// Get returns key's value as text (the form written in a TOML file).
func (c Config) Get(key string) string {
	switch key {
	case "cloud":
		return c.Cloud
	case "authority":
		return c.Authority
	case "client_id":
		return c.ClientID
	case "tenant_id":
		return c.TenantID
	case "graph_url":
		return c.GraphURL
	case "service_url":
		return c.ServiceURL
	case "service_scope":
		return c.ServiceScope
	case "lease_key":
		return c.LeaseKey
	case "ca_file":
		return c.CAFile
	case "cache_max_gb":
		return strconv.FormatFloat(c.CacheMaxGB, 'g', -1, 64)
	case "poll_interval":
		return c.PollInterval.String()
	case "refresh_interval":
		return c.RefreshInterval.String()
	case "start_jitter":
		return c.StartJitter.String()
	case "autostart":
		return strconv.FormatBool(c.Autostart)
	case "mount_root":
		return c.MountRoot
	case "socket":
		return c.Socket
	case "state_dir":
		return c.StateDir
	case "cache_dir":
		return c.CacheDir
	case "log_level":
		return c.LogLevel
	}
	return ""
}
