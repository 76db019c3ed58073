package graph

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// groupReadScopes may list a tenant's groups
// (https://learn.microsoft.com/graph/api/group-list#permissions).
var groupReadScopes = []string{"Group.Read.All", "GroupMember.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}

// serveGroups is GET /groups: the tenant's groups, optionally narrowed by
// $search="displayName:term" (a word of the name starts with term, case
// blind), which Graph serves only with the ConsistencyLevel: eventual
// header (https://learn.microsoft.com/graph/search-query-parameter), and
// cut to $top. The admin portal searches groups this way.
func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(groupReadScopes...) {
		return errScope()
	}
	q := r.URL.Query()
	term := ""
	if q.Has("$search") {
		if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
			return errInvalid("Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
		}
		raw := strings.TrimSpace(q.Get("$search"))
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return errInvalid("Invalid search query: the $search value must be quoted, as in \"displayName:term\".")
		}
		prop, t, ok := strings.Cut(raw[1:len(raw)-1], ":")
		if !ok || !strings.EqualFold(prop, "displayName") && !strings.EqualFold(prop, "description") && !strings.EqualFold(prop, "mail") {
			return errInvalid("Invalid search query: use \"displayName:term\".")
		}
		term = strings.ToLower(strings.TrimSpace(t))
	}
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return errInvalid("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", v)
		}
		top = n
	}
	out := struct {
		Context string      `json:"@odata.context"`
		Value   []groupJSON `json:"value"`
	}{Context: s.base + "/v1.0/$metadata#groups", Value: []groupJSON{}}
	for i := range c.tenant.Groups {
		g := &c.tenant.Groups[i]
		if term != "" && !wordPrefix(g.DisplayName, term) {
			continue
		}
		if len(out.Value) == top {
			break
		}
		out.Value = append(out.Value, groupOf(c.tenant, g))
	}
	return writeValue(w, http.StatusOK, out)
}

// wordPrefix reports whether a word of name starts with term (lower case).
func wordPrefix(name, term string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == ' ' || r == '-' || r == '_' || r == '.' }) {
		if strings.HasPrefix(w, term) {
			return true
		}
	}
	return false
}

// groupOf is a group as Graph lists it.
func groupOf(t *directory.Tenant, g *directory.Group) groupJSON {
	gj := groupJSON{Type: "#microsoft.graph.group", ID: g.ID, DisplayName: g.DisplayName,
		Mail: mailNick(g.DisplayName) + "@" + t.Domains[0], GroupTypes: []string{}, ResourceProvisioningOptions: []string{}}
	if g.Team || g.Site != "" {
		gj.MailEnabled, gj.GroupTypes = true, []string{"Unified"}
	} else {
		gj.SecurityEnabled = true
	}
	if g.Team {
		gj.ResourceProvisioningOptions = []string{"Team"}
	}
	return gj
}
