// Package cli is the `mapdrive` command line: every command talks to the
// agent through client/localclient, except `agent`, which runs it through
// the function main passes in. Every command has --json output for scripts.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pkg/browser"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// AgentFunc runs the agent until ctx ends (main wires agent.RunFromConfig).
type AgentFunc func(ctx context.Context, cfg config.Config, stderr io.Writer) error

// Env is what the commands use from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// RunAgent runs the agent for `mapdrive agent`.
	RunAgent AgentFunc
	// IsTerminal reports whether Stdout is a terminal (for live redraws).
	IsTerminal bool
	// OpenURL opens a web page in the user's browser; nil means the
	// system browser (the helper the agent's sign-in uses).
	OpenURL func(string) error
}

// app holds one invocation's flags; nothing is global.
type app struct {
	env        Env
	jsonOut    bool
	configFile string
	flags      *pflag.FlagSet // persistent flags, for config keys
}

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	if env.LookupEnv == nil {
		env.LookupEnv = os.LookupEnv
	}
	if env.OpenURL == nil {
		env.OpenURL = browser.OpenURL
	}
	a := &app{env: env}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	a.printError(err)
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mapdrive",
		Short:         "Mapdrive maps OneDrive and SharePoint libraries as local drives",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          a.runDefault,
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&a.jsonOut, "json", false, "print machine-readable JSON")
	pf.StringVar(&a.configFile, "config", "", "user config file (default: "+config.DefaultUserFile()+")")
	for _, s := range config.Settings {
		if s.Flag != "" {
			pf.String(s.Flag, "", s.Usage)
		}
	}
	a.flags = pf
	root.AddCommand(a.loginCmd(), a.logoutCmd(), a.whoamiCmd(), a.drivesCmd(), a.mountCmd(), a.unmountCmd(),
		a.statusCmd(), a.agentCmd(), a.versionCmd(), a.uploadsCmd(), a.pinCmd(true), a.pinCmd(false),
		a.refreshCmd(), a.linkCmd(), a.openWebCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, cmd: c.CommandPath()}
	})
	return root
}

// usageError is a mistake on the command line.
type usageError struct {
	err error
	cmd string
}

func (e *usageError) Error() string { return e.err.Error() }

// loadConfig merges flags, environment, user file and policy.
func (a *app) loadConfig() (config.Config, error) {
	l := config.NewLoader(a.configFile)
	l.LookupEnv = a.env.LookupEnv
	flags := map[string]string{}
	for _, s := range config.Settings {
		if s.Flag == "" {
			continue
		}
		if fl := a.flags.Lookup(s.Flag); fl != nil && fl.Changed {
			flags[s.Key] = fl.Value.String()
		}
	}
	return l.Load(flags)
}

// client returns a local API client for the configured socket.
func (a *app) client() (*localclient.Client, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return localclient.New(cfg.Socket)
}

// printJSON writes v indented.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.env.Stdout, format, args...)
}

// printError tells what happened and what to do: to stderr, or as JSON
// {"error": {...}} on stdout with --json.
func (a *app) printError(err error) {
	var ae *apitype.Error
	var ue *usageError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, localclient.ErrAgentNotRunning):
		ae = apitype.NewError("agent_not_running", "the Mapdrive agent is not running", localclient.NotRunningHint)
	case errors.Is(err, localclient.ErrUntrustedAgent):
		ae = apitype.NewError("agent_untrusted", err.Error(),
			"Nothing was sent to it. Ask your administrator to find who created it; remove it and start your own agent with `mapdrive agent`.")
	case errors.As(err, &ue):
		ae = apitype.NewError(apitype.CodeBadRequest, ue.Error(), "Run `"+ue.cmd+" --help` for the usage.")
	case strings.HasPrefix(err.Error(), "unknown command"):
		ae = apitype.NewError(apitype.CodeBadRequest, err.Error(), "Run `mapdrive --help` to see the commands.")
	default:
		ae = apitype.NewError(apitype.CodeInternal, err.Error(),
			"Run `mapdrive --help` for the usage, or `mapdrive status` to see what the agent reports.")
	}
	if a.jsonOut {
		a.printJSON(struct {
			Error *apitype.Error `json:"error"`
		}{ae})
		return
	}
	fmt.Fprintf(a.env.Stderr, "mapdrive: %s\n", ae.Message)
	if ae.Action != "" {
		fmt.Fprintf(a.env.Stderr, "%s\n", ae.Action)
	}
}

// firstRun is the guide shown by `mapdrive` while a setting it needs is
// missing (missing is config.Check's error): what to set, where and how.
func firstRun(cfg config.Config, missing error) string {
	return strings.Join([]string{
		"Mapdrive is not set up yet: it needs your organisation's Mapdrive app ID (client_id) and, with a service, its URL and scope.",
		missing.Error(),
		"Ask your IT administrator, or write them to " + cfg.UserFile + " (client_id = \"…\", service_url = \"https://…\", service_scope = \"api://…/Mapdrive.Access\").",
		"Then run `mapdrive agent` (or open the Mapdrive tray app) and sign in with `mapdrive login`.",
	}, "\n") + "\n"
}

// runDefault is `mapdrive` with no command: the first-run guide when
// nothing is configured, else a short status.
func (a *app) runDefault(cmd *cobra.Command, _ []string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if missing := cfg.Check(); missing != nil {
		if a.jsonOut {
			return a.printJSON(map[string]any{"configured": false, "config_file": cfg.UserFile, "next": firstRun(cfg, missing)})
		}
		a.printf("%s", firstRun(cfg, missing))
		return nil
	}
	c, err := localclient.New(cfg.Socket)
	if err != nil {
		return err
	}
	st, err := c.Status(cmd.Context())
	if errors.Is(err, localclient.ErrAgentNotRunning) && !a.jsonOut {
		a.printf("Mapdrive is configured, but its agent is not running.\nStart it with `mapdrive agent` (or open the Mapdrive tray app), then sign in with `mapdrive login`.\nRun `mapdrive --help` for every command.\n")
		return nil
	}
	if err != nil {
		return err
	}
	if a.jsonOut {
		return a.printJSON(st)
	}
	renderStatus(a.env.Stdout, st)
	if st.SignIn != apitype.SignedIn {
		a.printf("\nSign in with `mapdrive login` (add --device-code on a machine without a browser).\n")
	}
	return nil
}
