package config

import (
	"fmt"
	"strings"
)

// Setting is one client setting. The table below is its only declaration:
// the keys the loader accepts, the environment variables it reads, the
// flags of the mapdrive command, the values machine policy may set, and
// the table in docs/client-settings.md all come from it.
type Setting struct {
	// Key is the name in the TOML file and, on Windows, the registry value
	// under HKLM\SOFTWARE\Policies\Mapdrive.
	Key string
	// Flag is the mapdrive command's flag, without dashes; "" for none.
	Flag string
	// Policy: machine policy may set it (/etc/mapdrive/config.toml, or the
	// registry with an ADMX policy). Where one user's files and pipe live
	// is never machine-wide: on a shared host (Remote Desktop, Azure
	// Virtual Desktop) every user would be put in the same place.
	Policy bool
	// Default says what applies when nothing sets it.
	Default string
	// Usage says what it is, for the help text and the docs.
	Usage string
}

// Env is the setting's environment variable, MAPDRIVE_<KEY>.
func (s Setting) Env() string { return EnvName(s.Key) }

// Settings is the table of every client setting, in the order the docs
// list them.
var Settings = []Setting{
	{"cloud", "cloud", true, "global", "the Microsoft cloud: global, usgov (US Government L4), usgovdod (L5) or china; gives the defaults of authority and graph_url"},
	{"authority", "authority", true, "the cloud's, e.g. https://login.microsoftonline.com/organizations", "Entra ID authority URL"},
	{"client_id", "client-id", true, "none: required", "the Mapdrive desktop app's client (application) ID"},
	{"tenant_id", "tenant-id", true, "any tenant", "sign in to this tenant only"},
	{"graph_url", "graph-url", true, "the cloud's, e.g. https://graph.microsoft.com/v1.0", "Microsoft Graph base URL"},
	{"service_url", "service-url", true, "none: no licence service", "Mapdrive service URL"},
	{"service_scope", "service-scope", true, "none: required with service_url", "the Mapdrive service API's scope, api://<service app id>/Mapdrive.Access"},
	{"lease_key", "", true, "pinned on first use", "the licence lease public key(s), separated by ; or , while the service rotates its key"},
	{"ca_file", "ca-file", true, "the system's", "extra CA certificates (PEM) to trust"},
	{"cache_max_gb", "cache-max-gb", true, "10% of the free disk, at most 20", "content cache size in GB"},
	{"poll_interval", "poll-interval", true, "30s", "how often to look for remote changes"},
	{"refresh_interval", "refresh-interval", true, "5m", "how often the agent fetches assigned drives and the licence"},
	{"start_jitter", "start-jitter", true, "0s: none until the tenant's policy is known", "the longest random delay before the agent's first call at start, until the service's start-jitter policy arrives (it then wins)"},
	{"autostart", "", true, "false (the installers turn it on)", "start the tray (and the agent) at login"},
	{"mount_root", "mount-root", false, "~/Mapdrive", "directory drives mount under by default"},
	{"socket", "socket", false, "per user, in the runtime dir", "the agent's local API socket (Windows: named pipe)"},
	{"state_dir", "state-dir", false, "per user", "where the agent keeps its state"},
	{"cache_dir", "cache-dir", false, "per user", "where the agent keeps its caches"},
	{"log_level", "log-level", true, "info", "debug, info, warn or error"},
}

// Keys lists every configuration key, as written in TOML files and, upper
// cased with a MAPDRIVE_ prefix, in the environment.
var Keys = keysOf(func(Setting) bool { return true })

// PolicyKeys lists the settings machine policy sets: on Windows the value
// names read from HKLM\SOFTWARE\Policies\Mapdrive, each with a policy in
// installer/windows/admx (shared/distcheck checks the two agree).
var PolicyKeys = keysOf(func(s Setting) bool { return s.Policy })

func keysOf(keep func(Setting) bool) []string {
	var out []string
	for _, s := range Settings {
		if keep(s) {
			out = append(out, s.Key)
		}
	}
	return out
}

// SettingsDoc renders the table as Markdown, for docs/client-settings.md.
func SettingsDoc() string {
	var b strings.Builder
	b.WriteString("| Key (file, registry value) | Environment | Flag | Machine policy | Default | What it is |\n|---|---|---|---|---|---|\n")
	for _, s := range Settings {
		flag := ""
		if s.Flag != "" {
			flag = "`--" + s.Flag + "`"
		}
		pol := "no"
		if s.Policy {
			pol = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s |\n", s.Key, s.Env(), flag, pol,
			strings.ReplaceAll(s.Default, "|", "\\|"), strings.ReplaceAll(s.Usage, "|", "\\|"))
	}
	return b.String()
}
