package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/version"
)

func (a *app) loginCmd() *cobra.Command {
	var deviceCode bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to Microsoft 365 (system browser, or --device-code)",
		Long: "Sign in to Microsoft 365. By default the agent opens the system browser; with --device-code it\n" +
			"prints a code to enter on any other device, for machines without a browser.\n" +
			"With --json the prompt and then the account are printed as two JSON lines.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			resp, err := c.Login(ctx, deviceCode)
			if err != nil {
				return err
			}
			if a.jsonOut {
				a.printJSONLine(resp)
			}
			if resp.Account == nil {
				if !a.jsonOut && resp.Prompt != nil {
					if resp.Prompt.DeviceCode {
						a.printf("%s\n", resp.Prompt.Message)
					} else {
						a.printf("Opening your browser to sign in. If it does not open, go to:\n  %s\n", resp.Prompt.AuthURL)
					}
					a.printf("Waiting for you to finish signing in…\n")
				}
				acct, err := c.WaitLogin(ctx)
				if err != nil {
					return err
				}
				resp.Account = &acct
				if a.jsonOut {
					a.printJSONLine(acct)
				}
			} else if a.jsonOut {
				a.printJSONLine(*resp.Account)
			}
			if !a.jsonOut {
				a.printf("Signed in as %s.\nYour assigned drives mount on their own; see them with `mapdrive drives`.\n", accountName(*resp.Account))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&deviceCode, "device-code", false, "sign in with a code entered on another device")
	return cmd
}

// printJSONLine writes v as one line (for streams).
func (a *app) printJSONLine(v any) {
	b, _ := jsonMarshal(v)
	a.env.Stdout.Write(append(b, '\n'))
}

func accountName(acct apitype.Account) string {
	if acct.DisplayName != "" && acct.Username != "" {
		return fmt.Sprintf("%s (%s)", acct.Username, acct.DisplayName)
	}
	if acct.Username != "" {
		return acct.Username
	}
	return acct.DisplayName
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Sign out: unmount every drive, remove the tokens and delete the account's cached files",
		Long: `Sign out: unmount every drive, remove the tokens from the keyring, and
delete this account's cached files, metadata and cache key.

Changes not uploaded yet are never dropped. Sign-out first waits up to 15
seconds for them (unless uploads are paused). What is still pending then
stays on this computer, encrypted, and uploads when the same account signs
in again; another account signing in here never sees or sends it. The
output says how many changes were kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ack, err := c.SignOut(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(ack)
			}
			a.printf("%s\n", ack.Message)
			return nil
		},
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the signed-in account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			acct, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(acct)
			}
			a.printf("%s\ntenant %s\n", accountName(acct), acct.TenantID)
			return nil
		},
	}
}

func (a *app) drivesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drives",
		Short: "List the drives assigned to you and the ones you can reach",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ds, err := c.Drives(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if ds == nil {
					ds = []apitype.Drive{}
				}
				return a.printJSON(apitype.DriveList{Drives: ds})
			}
			if len(ds) == 0 {
				a.printf("No drives found yet. If you just signed in, wait a few seconds and try again.\n")
				return nil
			}
			renderDrives(a.env.Stdout, ds)
			return nil
		},
	}
}

func (a *app) mountCmd() *cobra.Command {
	use := "mount <drive> [mountpoint]"
	if runtime.GOOS == "windows" {
		use = "mount <drive> [X:|folder]"
	}
	return &cobra.Command{
		Use:   use,
		Short: "Mount a drive (by name or id from `mapdrive drives`)",
		Args:  argsBetween(1, 2, "a drive name, and optionally a mountpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			mp := ""
			if len(args) == 2 {
				mp = args[1]
			}
			d, err := c.Mount(cmd.Context(), args[0], mp)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(d)
			}
			a.printf("Mounted %s at %s.\n", d.Name, d.Mountpoint)
			return nil
		},
	}
}

func (a *app) unmountCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unmount <drive|mountpoint>",
		Short: "Unmount a drive; queued uploads stay in the cache and resume later",
		Args:  argsBetween(1, 1, "the drive name or its mountpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Unmount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(d)
			}
			a.printf("Unmounted %s.\n", d.Name)
			return nil
		},
	}
}

func (a *app) statusCmd() *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the account, licence, drives, transfers, errors and conflicts",
		Long: "Show the agent's status. With --watch, follow it live with progress bars for transfers;\n" +
			"with --watch --json, print one JSON status per line as it changes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if watch {
				return a.watch(cmd.Context(), c)
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(st)
			}
			renderStatus(a.env.Stdout, st)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the status live")
	return cmd
}

func (a *app) watch(ctx context.Context, c *localclient.Client) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, err := c.WatchStatus(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		st, err := w.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return apitype.NewError("agent_stopped", "the agent stopped", localclient.NotRunningHint)
			}
			return fmt.Errorf("follow the agent's status: %w", err)
		}
		if a.jsonOut {
			a.printJSONLine(st)
			continue
		}
		if a.env.IsTerminal {
			io.WriteString(a.env.Stdout, "\x1b[H\x1b[2J") // home, clear screen
		} else {
			io.WriteString(a.env.Stdout, "\n")
		}
		renderStatus(a.env.Stdout, st)
	}
}

func (a *app) agentCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "agent",
		Short: "Run the Mapdrive agent (the per-user process that owns the mounts)",
		Long: "Run the agent in the foreground until interrupted. The tray app starts it on its own;\n" +
			"run it by hand on headless machines or to watch its log.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.env.RunAgent == nil {
				return apitype.NewError(apitype.CodeNotImplemented, "this build has no agent", "Use the full mapdrive binary.")
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.env.RunAgent(ctx, cfg, a.env.Stderr)
		},
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the version of mapdrive and of the running agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := struct {
				CLI   apitype.VersionInfo  `json:"cli"`
				Agent *apitype.VersionInfo `json:"agent,omitempty"`
			}{CLI: apitype.VersionInfo{Version: version.Version, OS: runtime.GOOS, Arch: runtime.GOARCH}}
			if c, err := a.client(); err == nil {
				if v, err := c.Version(cmd.Context()); err == nil {
					out.Agent = &v
				}
			}
			if a.jsonOut {
				return a.printJSON(out)
			}
			a.printf("mapdrive %s (%s/%s)\n", out.CLI.Version, out.CLI.OS, out.CLI.Arch)
			if out.Agent != nil {
				a.printf("agent    %s\n", out.Agent.Version)
			} else {
				a.printf("agent    not running\n")
			}
			return nil
		},
	}
}

func (a *app) uploadsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "uploads", Short: "Pause or resume uploads"}
	for _, pause := range []bool{true, false} {
		pause := pause
		name, msg := "resume", "Uploads resumed."
		if pause {
			name, msg = "pause", "Uploads paused. Changes stay in the cache until you run `mapdrive uploads resume`."
		}
		cmd.AddCommand(&cobra.Command{
			Use:   name,
			Short: name + " every upload queue",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				if pause {
					err = c.PauseUploads(cmd.Context())
				} else {
					err = c.ResumeUploads(cmd.Context())
				}
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.printJSON(apitype.Ack{OK: true, Message: msg})
				}
				a.printf("%s\n", msg)
				return nil
			},
		})
	}
	return cmd
}

func (a *app) refreshCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "refresh",
		Short: "Fetch newly assigned drives and the licence now, and mount new assigned drives",
		Long: "Ask the agent to check the licence, the drives your administrator assigned and the drives\n" +
			"you can reach now instead of at its next scheduled refresh (refresh_interval, 5 minutes by\n" +
			"default). Newly assigned drives are mounted before the command returns.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.Refresh(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(st)
			}
			a.printf("Refreshed the licence and drives.\n\n")
			renderStatus(a.env.Stdout, st)
			return nil
		},
	}
}

func (a *app) pinCmd(pin bool) *cobra.Command {
	name, short, msg := "unpin", "Let the cache evict a file or folder again", "is no longer kept offline"
	if pin {
		name, short, msg = "pin", "Keep a file or folder offline", "is kept offline"
	}
	return &cobra.Command{
		Use:   name + " <drive> <path>",
		Short: short,
		Args:  argsBetween(2, 2, "a drive and a path inside it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if pin {
				err = c.Pin(cmd.Context(), args[0], args[1])
			} else {
				err = c.Unpin(cmd.Context(), args[0], args[1])
			}
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(apitype.Ack{OK: true, Message: args[1] + " " + msg})
			}
			a.printf("%s %s.\n", args[1], msg)
			return nil
		},
	}
}

// argsBetween checks the number of arguments with a helpful message.
func argsBetween(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return &usageError{err: fmt.Errorf("%s expects %s", cmd.CommandPath(), what), cmd: cmd.CommandPath()}
		}
		return nil
	}
}
