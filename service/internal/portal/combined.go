package portal

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// A combined drive (#17 item 1) is edited as text, one library a line:
//
//	Finance | https://contoso.sharepoint.com/sites/Finance | Documents
//	Reports | https://contoso.sharepoint.com/sites/Finance | Documents | Reports/2026
//	My files | onedrive
//
// the name of its top-level folder, then the library: a site, its library
// and optionally a folder, or "onedrive" for each user's own. Every site,
// library and folder is checked through Graph as the admin, as a single
// mapping's are.

// membersText is a combined target's libraries in the form's text.
func membersText(ms []apitype.CombinedMember) string {
	var b strings.Builder
	for _, m := range ms {
		switch m.Target.Kind {
		case apitype.TargetOneDrive:
			fmt.Fprintf(&b, "%s | onedrive", m.Name)
		case apitype.TargetSharePoint:
			fmt.Fprintf(&b, "%s | %s | %s", m.Name, m.Target.SiteURL, m.Target.LibraryName)
		default:
			// Set through the API (a Team, a drive id): kept by its
			// description, which the form cannot save back.
			fmt.Fprintf(&b, "%s | %s", m.Name, describeTarget(m.Target))
		}
		if f := strings.TrimPrefix(m.Target.FolderPath, "/"); f != "" && m.Target.Kind == apitype.TargetSharePoint {
			fmt.Fprintf(&b, " | %s", f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// validateMembers turns the form's text into a combined drive's
// libraries, checking each through Graph; the error names the first line
// at fault.
func (s *Server) validateMembers(r *http.Request, ss *session, text string) ([]apitype.CombinedMember, string) {
	var out []apitype.CombinedMember
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	n := 0
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		if n > apitype.MaxCombinedMembers {
			return nil, fmt.Sprintf("At most %d libraries in one drive.", apitype.MaxCombinedMembers)
		}
		m, msg := s.parseMember(r, ss, line)
		if msg != "" {
			return nil, fmt.Sprintf("Line %d: %s", n, msg)
		}
		if slices.ContainsFunc(out, func(o apitype.CombinedMember) bool { return strings.EqualFold(o.Name, m.Name) }) {
			return nil, fmt.Sprintf("Line %d: the folder name “%s” is used twice.", n, m.Name)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, "List the drive's libraries, one a line: a folder name, then the site's address and library, or onedrive."
	}
	return out, ""
}

// parseMember reads and checks one line of validateMembers.
func (s *Server) parseMember(r *http.Request, ss *session, line string) (apitype.CombinedMember, string) {
	parts := strings.Split(line, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	m := apitype.CombinedMember{Name: parts[0]}
	if !apitype.ValidMemberName(m.Name) {
		return m, "give a folder name first: at most 128 characters, without / \\ : * ? \" < > |, not ending in a dot or space, then | and the library."
	}
	if len(parts) == 2 && strings.EqualFold(parts[1], "onedrive") {
		m.Target = apitype.Target{Kind: apitype.TargetOneDrive}
		return m, ""
	}
	if len(parts) < 3 || len(parts) > 4 {
		return m, "write “name | site address | library”, optionally “| folder”, or “name | onedrive”."
	}
	norm, _, _, err := parseSiteURL(parts[1])
	if err != nil {
		return m, inlineError(err)
	}
	tok, err := s.graphAccess(r.Context(), ss)
	if err != nil {
		return m, errSiteUnreachable.Error() + "."
	}
	libs, err := s.graph.siteLibraries(r.Context(), tok, norm)
	if err != nil {
		if !errors.Is(err, errSiteURL) && !errors.Is(err, errSiteNotFound) {
			s.log.WarnContext(r.Context(), "portal: site lookup", "tenant", ss.TenantID, "err", err)
		}
		return m, inlineError(err)
	}
	if !slices.ContainsFunc(libs, func(l library) bool { return l.Name == parts[2] }) {
		var names []string
		for _, l := range libs {
			names = append(names, l.Name)
		}
		return m, fmt.Sprintf("the site has no library “%s”; its libraries are: %s.", parts[2], strings.Join(names, ", "))
	}
	m.Target = apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: norm, LibraryName: parts[2]}
	if len(parts) == 4 {
		folder, msg := s.validateFolder(r, ss, mappingForm{Library: parts[2], Folder: parts[3]}, libs)
		if msg != "" {
			return m, msg
		}
		m.Target.FolderPath = folder
	}
	return m, ""
}
