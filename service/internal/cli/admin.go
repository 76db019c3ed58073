package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// newFlags returns a command's flag set holding the common settings.
func newFlags(name string, opts Options) (*cmdFlags, *common) {
	fs := &cmdFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), lookup: opts.LookupEnv}
	if fs.lookup == nil {
		fs.lookup = os.LookupEnv
	}
	fs.SetOutput(opts.Stderr)
	fs.Usage = fs.usage
	c := &common{flags: fs}
	fs.add(c.settings()...)
	return fs, c
}

func cmdMigrate(ctx context.Context, args []string, opts Options) error {
	fs, c := newFlags("migrate", opts)
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, _, err := c.open(ctx, c.logger(opts.Stderr), true)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.AppliedVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Stdout, "schema at version %d\n", v)
	return nil
}

func sub(args []string, names ...string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("want a subcommand: %s", strings.Join(names, ", "))
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown subcommand %q; want %s", args[0], strings.Join(names, ", "))
}

func cmdTenant(ctx context.Context, args []string, opts Options) error {
	verb, rest, err := sub(args, "add", "set", "list", "delete")
	if err != nil {
		return err
	}
	fs, c := newFlags("tenant "+verb, opts)
	id := fs.String("id", "", "Entra tenant ID (GUID)")
	name := fs.String("name", "", "display name")
	var domains stringList
	fs.Var(&domains, "domain", "verified domain, repeatable")
	seats := fs.Int("seats", -1, "licensed seats")
	expires := fs.String("expires", "", "licence end, YYYY-MM-DD (default: one year from now for add)")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	log := c.logger(opts.Stderr)
	st, _, err := c.open(ctx, log, false)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "list":
		ts, err := st.Tenants(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(opts.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tDOMAINS\tSEATS\tUSED\tEXPIRES")
		for _, t := range ts {
			used, _ := st.SeatsUsed(ctx, t.ID)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", t.ID, t.DisplayName, strings.Join(t.Domains, ","), t.Seats, used, t.LicenceExpires.Format("2006-01-02"))
		}
		return tw.Flush()
	case "delete":
		if err := st.DeleteTenant(ctx, *id); err != nil {
			return err
		}
		fmt.Fprintf(opts.Stdout, "tenant %s erased and its data key destroyed\n", *id)
		return nil
	}
	t := store.Tenant{ID: *id, DisplayName: *name, Domains: domains, Seats: *seats}
	if verb == "set" {
		cur, err := st.Tenant(ctx, *id)
		if err != nil {
			return err
		}
		if t.DisplayName == "" {
			t.DisplayName = cur.DisplayName
		}
		if len(t.Domains) == 0 {
			t.Domains = cur.Domains
		}
		if t.Seats < 0 {
			t.Seats = cur.Seats
		}
		t.LicenceExpires, t.Policies = cur.LicenceExpires, cur.Policies
	} else {
		if _, err := st.Tenant(ctx, *id); err == nil {
			return fmt.Errorf("tenant %s is already registered; use tenant set", *id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if t.Seats < 0 {
			return errors.New("--seats is required")
		}
		t.LicenceExpires = time.Now().AddDate(1, 0, 0)
	}
	if *expires != "" {
		d, err := time.Parse("2006-01-02", *expires)
		if err != nil {
			return fmt.Errorf("--expires: %w", err)
		}
		t.LicenceExpires = d.Add(24*time.Hour - time.Second)
	}
	if err := st.PutTenant(ctx, t); err != nil {
		return err
	}
	if err := st.Audit(ctx, t.ID, "operator-cli", "tenant."+verb, t.ID); err != nil {
		return err
	}
	fmt.Fprintf(opts.Stdout, "tenant %s: %d seats until %s\n", t.ID, t.Seats, t.LicenceExpires.Format("2006-01-02"))
	return nil
}

func cmdMapping(ctx context.Context, args []string, opts Options) error {
	verb, rest, err := sub(args, "add", "list", "delete")
	if err != nil {
		return err
	}
	fs, c := newFlags("mapping "+verb, opts)
	tid := fs.String("tenant", "", "tenant ID (GUID)")
	id := fs.String("id", "", "mapping id (delete)")
	var m apitype.AdminMapping
	fs.StringVar(&m.DisplayName, "name", "", "display name")
	fs.StringVar(&m.DriveLetter, "letter", "", "Windows drive letter")
	fs.StringVar(&m.MountName, "mount", "", "macOS/Linux mount folder name")
	kind := fs.String("kind", "sharepoint", "target kind: onedrive, sharepoint, driveId, team, combined")
	fs.StringVar(&m.Target.SiteURL, "site-url", "", "SharePoint site URL")
	fs.StringVar(&m.Target.LibraryName, "library", "", "document library name")
	fs.StringVar(&m.Target.DriveID, "drive-id", "", "drive id")
	fs.StringVar(&m.Target.GroupID, "team", "", "Team (group) id")
	fs.StringVar(&m.Target.FolderPath, "folder", "", "a folder inside the library to map instead of the whole library, e.g. /Reports")
	members := fs.String("members", "", `with --kind combined: its libraries as JSON, [{"name":"Finance","target":{"kind":"sharepoint","siteUrl":"...","libraryName":"Documents"}}, ...]`)
	fs.BoolVar(&m.ReadOnly, "read-only", false, "mount read-only")
	fs.BoolVar(&m.ExclusiveEditing, "exclusive-editing", false, "check files out while they are edited")
	pin := fs.String("offline", "allowed", "offline pin policy: none, allowed, all")
	fs.Int64Var(&m.CacheLimitBytes, "cache-limit", 0, "cache limit in bytes (0: tenant default)")
	var groups stringList
	fs.Var(&groups, "group", "Entra group id to assign to, repeatable")
	fs.BoolVar(&m.Everyone, "everyone", false, "assign to everyone in the tenant")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	st, _, err := c.open(ctx, c.logger(opts.Stderr), false)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Tenant(ctx, *tid); err != nil {
		return fmt.Errorf("tenant %q: %w", *tid, err)
	}
	switch verb {
	case "list":
		ms, err := st.Mappings(ctx, *tid)
		if err != nil {
			return err
		}
		return writeJSON(opts.Stdout, ms)
	case "delete":
		return st.DeleteMapping(ctx, *tid, *id)
	}
	m.Target.Kind, m.OfflinePin, m.Groups = apitype.TargetKind(*kind), apitype.OfflinePin(*pin), groups
	if *members != "" {
		if err := json.Unmarshal([]byte(*members), &m.Target.Members); err != nil {
			return fmt.Errorf("--members: not a JSON list of libraries: %w", err)
		}
	}
	created, err := st.CreateMapping(ctx, *tid, m)
	if err != nil {
		return err
	}
	if err := st.Audit(ctx, *tid, "operator-cli", "mapping.create", created.ID); err != nil {
		return err
	}
	return writeJSON(opts.Stdout, created)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
