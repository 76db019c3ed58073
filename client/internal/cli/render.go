package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// humanBytes formats n as "1.5 MB".
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// progressBar draws [#######-------] of width cells.
func progressBar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("?", width) + "]"
	}
	filled := int(float64(width) * float64(min(done, total)) / float64(total))
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
}

func renderDrives(w io.Writer, ds []apitype.Drive) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tMOUNTPOINT\tSOURCE\tTARGET")
	for _, d := range ds {
		mp := d.Mountpoint
		if d.State != apitype.DriveMounted && mp != "" {
			mp = "(" + mp + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Kind, d.State, mp, d.Source, d.Target)
	}
	tw.Flush()
	for _, d := range ds {
		if d.Error != nil {
			fmt.Fprintf(w, "\n%s: %s.", d.Name, d.Error.Message)
			if d.Error.Action != "" {
				fmt.Fprintf(w, " %s", d.Error.Action)
			}
			fmt.Fprintln(w)
		}
	}
}

func renderStatus(w io.Writer, st apitype.Status) {
	switch {
	case st.Account != nil && st.SignIn == apitype.SignedIn:
		fmt.Fprintf(w, "Signed in as %s\n", accountName(*st.Account))
	case st.SignIn == apitype.SigningIn:
		fmt.Fprintf(w, "Signing in…\n")
		if st.Login != nil {
			fmt.Fprintf(w, "  %s\n", st.Login.Message)
		}
	case st.SignIn == apitype.SignInExpired:
		fmt.Fprintf(w, "Sign-in expired: run `mapdrive login`\n")
	default:
		fmt.Fprintf(w, "Not signed in: run `mapdrive login`\n")
	}
	lic := string(st.Licence.State)
	if !st.Licence.ExpiresAt.IsZero() {
		lic += ", lease until " + st.Licence.ExpiresAt.Local().Format("2006-01-02 15:04")
	}
	if st.Licence.Message != "" {
		lic += " (" + st.Licence.Message + ")"
	}
	fmt.Fprintf(w, "Licence: %s\n", lic)
	net := "online"
	if !st.Online {
		net = "offline: cached files stay available, changes are queued"
	}
	fmt.Fprintf(w, "Network: %s\n", net)
	if st.UploadsPaused {
		fmt.Fprintf(w, "Uploads: paused (`mapdrive uploads resume` to restart)\n")
	}
	if bw := bandwidthLine(st.Bandwidth); bw != "" {
		fmt.Fprintf(w, "Bandwidth: %s\n", bw)
	}
	if len(st.Drives) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DRIVE\tSTATE\tMOUNTPOINT\tCACHE\tTO UPLOAD")
		for _, d := range st.Drives {
			mp := d.Mountpoint
			if d.State != apitype.DriveMounted {
				mp = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", d.Name, d.State, mp, humanBytes(d.CacheBytes), d.PendingUploads)
		}
		tw.Flush()
	}
	if len(st.Transfers) > 0 {
		fmt.Fprintf(w, "\nTransfers:\n")
		for _, t := range st.Transfers {
			arrow := "↓"
			if t.Direction == apitype.Upload {
				arrow = "↑"
			}
			pct := ""
			if t.Total > 0 {
				pct = fmt.Sprintf("%3d%%", t.Done*100/t.Total)
			}
			fmt.Fprintf(w, "  %s %s %s %s / %s  %s", arrow, progressBar(t.Done, t.Total, 20), pct,
				humanBytes(t.Done), humanBytes(t.Total), t.Path)
			if t.State != "" && t.State != "active" {
				fmt.Fprintf(w, " (%s)", t.State)
			}
			fmt.Fprintln(w)
		}
	}
	if len(st.Conflicts) > 0 {
		fmt.Fprintf(w, "\nConflicts (both versions kept):\n")
		for _, c := range st.Conflicts {
			fmt.Fprintf(w, "  %s: your version is saved as %s\n", c.Path, c.ConflictPath)
		}
	}
	if len(st.Errors) > 0 {
		fmt.Fprintf(w, "\nProblems:\n")
		for _, p := range st.Errors {
			fmt.Fprintf(w, "  %s.", p.Message)
			if p.Action != "" {
				fmt.Fprintf(w, " %s", p.Action)
			}
			fmt.Fprintln(w)
		}
	}
}

// bandwidthLine describes the tenant's transfer limits, saying which one
// holds transfers back now; "" when there are none.
func bandwidthLine(b apitype.Bandwidth) string {
	var parts []string
	for _, d := range []struct {
		name    string
		limit   int64
		limited bool
	}{{"downloads", b.DownloadLimit, b.DownloadLimited}, {"uploads", b.UploadLimit, b.UploadLimited}} {
		if d.limit <= 0 {
			continue
		}
		p := fmt.Sprintf("%s up to %s/s", d.name, humanBytes(d.limit))
		if d.limited {
			p += " (limiting now)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + ", set by your organisation"
}
