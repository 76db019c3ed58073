package graph

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

type userJSON struct {
	Context           string   `json:"@odata.context,omitempty"`
	BusinessPhones    []string `json:"businessPhones"`
	DisplayName       string   `json:"displayName"`
	GivenName         *string  `json:"givenName"`
	JobTitle          *string  `json:"jobTitle"`
	Mail              string   `json:"mail"`
	MobilePhone       *string  `json:"mobilePhone"`
	OfficeLocation    *string  `json:"officeLocation"`
	PreferredLanguage *string  `json:"preferredLanguage"`
	Surname           *string  `json:"surname"`
	UserPrincipalName string   `json:"userPrincipalName"`
	ID                string   `json:"id"`
}

func (s *Server) serveMe(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(userScopes...) {
		return errScope()
	}
	upn := c.tenant.UPN(c.user)
	u := userJSON{
		Context:        s.base + "/v1.0/$metadata#users/$entity",
		BusinessPhones: []string{}, DisplayName: c.user.DisplayName, Mail: upn, UserPrincipalName: upn, ID: c.user.ID,
	}
	if first, last, ok := strings.Cut(c.user.DisplayName, " "); ok {
		u.GivenName, u.Surname = &first, &last
	}
	return writeValue(w, http.StatusOK, u)
}

type identityJSON struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email,omitempty"`
}

type quotaJSON struct {
	Deleted   int64  `json:"deleted"`
	Remaining int64  `json:"remaining"`
	State     string `json:"state"`
	Total     int64  `json:"total"`
	Used      int64  `json:"used"`
}

type driveJSON struct {
	Context              string                  `json:"@odata.context,omitempty"`
	CreatedDateTime      string                  `json:"createdDateTime"`
	Description          string                  `json:"description"`
	ID                   string                  `json:"id"`
	LastModifiedDateTime string                  `json:"lastModifiedDateTime"`
	Name                 string                  `json:"name"`
	WebURL               string                  `json:"webUrl"`
	DriveType            string                  `json:"driveType"`
	CreatedBy            map[string]identityJSON `json:"createdBy"`
	Owner                map[string]identityJSON `json:"owner"`
	Quota                quotaJSON               `json:"quota"`
	System               *struct{}               `json:"system,omitempty"`
}

// driveInfo renders a drive; sel decides whether the system facet shows.
func (s *Server) driveInfo(tx *store.Tx, ref directory.DriveRef) (driveJSON, error) {
	ds, err := tx.Drive(ref.Drive.ID)
	if err != nil {
		return driveJSON{}, err
	}
	total := int64(ref.Drive.Quota)
	rem := max(total-ds.Used, 0)
	state := "normal"
	switch {
	case rem == 0:
		state = "exceeded"
	case float64(ds.Used) >= 0.98*float64(total):
		state = "critical"
	case float64(ds.Used) >= 0.90*float64(total):
		state = "nearing"
	}
	dj := driveJSON{
		CreatedDateTime: formatTime(ds.Created), LastModifiedDateTime: formatTime(ds.Created),
		ID: ref.Drive.ID, Name: ref.Drive.Name, WebURL: s.driveWebURL(ref), DriveType: driveType(ref),
		Quota:     quotaJSON{Deleted: ds.Deleted, Remaining: rem, State: state, Total: total, Used: ds.Used},
		CreatedBy: map[string]identityJSON{"user": {DisplayName: "System Account"}},
	}
	switch ref.Kind {
	case directory.KindBusiness:
		dj.Owner = map[string]identityJSON{"user": {ID: ref.Owner.ID, DisplayName: ref.Owner.DisplayName, Email: ref.Tenant.UPN(ref.Owner)}}
	default:
		owner := identityJSON{DisplayName: ref.Site.DisplayName + " Owners"}
		for _, g := range ref.Tenant.Groups {
			if g.Site != "" && strings.EqualFold(g.Site, ref.Site.Name) {
				owner = identityJSON{ID: g.ID, DisplayName: g.DisplayName, Email: mailNick(g.DisplayName) + "@" + ref.Tenant.Domains[0]}
				dj.Owner = map[string]identityJSON{"group": owner}
			}
		}
		if dj.Owner == nil {
			dj.Owner = map[string]identityJSON{"user": owner}
		}
	}
	if ref.Drive.System {
		dj.System = &struct{}{}
	}
	return dj, nil
}

func mailNick(name string) string { return strings.ReplaceAll(strings.ToLower(name), " ", "") }

func (s *Server) serveDriveInfo(w http.ResponseWriter, r *http.Request, c *call, d *drive) error {
	var dj driveJSON
	err := s.st.View(func(tx *store.Tx) error {
		var err error
		dj, err = s.driveInfo(tx, d.ref)
		return err
	})
	if err != nil {
		return err
	}
	dj.Context = s.base + "/v1.0/$metadata#drives/$entity"
	return writeValue(w, http.StatusOK, dj)
}

// serveDrives lists drives the caller may read; system drives only when
// $select asks for the system facet.
func (s *Server) serveDrives(w http.ResponseWriter, r *http.Request, c *call, refs []directory.DriveRef) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	showSystem := strings.Contains(r.URL.Query().Get("$select"), "system")
	var all []driveJSON
	err := s.st.View(func(tx *store.Tx) error {
		for _, ref := range refs {
			if ref.Drive.System && !showSystem {
				continue
			}
			if s.dir.Access(c.tenant, c.user, ref) == directory.AccessNone {
				continue
			}
			dj, err := s.driveInfo(tx, ref)
			if err != nil {
				return err
			}
			all = append(all, dj)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeCollection(s, w, r, s.base+"/v1.0/$metadata#drives", all)
}

func (s *Server) serveMyDrives(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.hasAny(append(readAllScopes, "Files.Read", "Files.ReadWrite")...) {
		return errScope()
	}
	var refs []directory.DriveRef
	if c.user.Drive != nil {
		if ref, ok := s.dir.Drive(c.user.Drive.ID); ok {
			refs = append(refs, ref)
		}
	}
	return s.serveDrives(w, r, c, refs)
}

type siteJSON struct {
	Context              string `json:"@odata.context,omitempty"`
	CreatedDateTime      string `json:"createdDateTime"`
	Description          string `json:"description"`
	ID                   string `json:"id"`
	LastModifiedDateTime string `json:"lastModifiedDateTime"`
	Name                 string `json:"name"`
	WebURL               string `json:"webUrl"`
	DisplayName          string `json:"displayName"`
	SiteCollection       struct {
		Hostname string `json:"hostname"`
	} `json:"siteCollection"`
}

var siteEpoch = time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)

func (s *Server) siteJSON(t *directory.Tenant, st *directory.Site) siteJSON {
	j := siteJSON{
		CreatedDateTime: formatTime(siteEpoch), LastModifiedDateTime: formatTime(siteEpoch),
		ID: t.SiteID(st), Name: st.Name, WebURL: t.SiteURL(st), DisplayName: st.DisplayName,
	}
	j.SiteCollection.Hostname = t.SharePointHost
	return j
}

func (s *Server) writeSites(w http.ResponseWriter, r *http.Request, c *call, keep func(*directory.Site) bool) error {
	var all []siteJSON
	for i := range c.tenant.Sites {
		st := &c.tenant.Sites[i]
		if s.dir.CanSeeSite(st, c.user) && keep(st) {
			all = append(all, s.siteJSON(c.tenant, st))
		}
	}
	return writeCollection(s, w, r, s.base+"/v1.0/$metadata#sites", all)
}

func (s *Server) serveSiteSearch(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(siteScopes...) && !c.hasAny("Files.Read.All", "Files.ReadWrite.All") {
		return errScope()
	}
	q := r.URL.Query()
	if !q.Has("search") {
		return errInvalid("Listing sites needs a search query: /sites?search=.")
	}
	term := strings.ToLower(strings.Trim(strings.TrimSpace(q.Get("search")), `"`))
	return s.writeSites(w, r, c, func(st *directory.Site) bool {
		return term == "" || term == "*" || strings.Contains(strings.ToLower(st.Name), term) ||
			strings.Contains(strings.ToLower(st.DisplayName), term) || strings.Contains(strings.ToLower(st.Path), term)
	})
}

func (s *Server) serveFollowedSites(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(siteScopes...) {
		return errScope()
	}
	// Only the sites the user chose to follow, not every site they can
	// reach (issue 13; Microsoft: "List followed sites").
	return s.writeSites(w, r, c, func(st *directory.Site) bool { return st.IsFollowedBy(c.user) })
}

type groupJSON struct {
	Type                        string   `json:"@odata.type"`
	ID                          string   `json:"id"`
	DisplayName                 string   `json:"displayName"`
	Description                 *string  `json:"description"`
	Mail                        string   `json:"mail"`
	MailEnabled                 bool     `json:"mailEnabled"`
	SecurityEnabled             bool     `json:"securityEnabled"`
	GroupTypes                  []string `json:"groupTypes"`
	ResourceProvisioningOptions []string `json:"resourceProvisioningOptions"`
}

// serveMemberOf is GET /me/memberOf, the groups the user is a direct
// member of ("List a user's direct memberships": "This operation is not
// transitive"), or with transitive set GET /me/transitiveMemberOf, which
// adds the groups that hold those through nesting ("List a user's
// memberships (direct and transitive)").
func (s *Server) serveMemberOf(w http.ResponseWriter, r *http.Request, c *call, transitive bool) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(memberScopes...) {
		return errScope()
	}
	groups := c.tenant.GroupsOf(c.user)
	if transitive {
		groups = c.tenant.TransitiveGroupsOf(c.user)
	}
	var all []groupJSON
	for _, g := range groups {
		gj := groupJSON{Type: "#microsoft.graph.group", ID: g.ID, DisplayName: g.DisplayName,
			Mail: mailNick(g.DisplayName) + "@" + c.tenant.Domains[0], GroupTypes: []string{}, ResourceProvisioningOptions: []string{}}
		if g.Team || g.Site != "" {
			gj.MailEnabled, gj.GroupTypes = true, []string{"Unified"}
		} else {
			gj.SecurityEnabled = true
		}
		if g.Team {
			gj.ResourceProvisioningOptions = []string{"Team"}
		}
		all = append(all, gj)
	}
	return writeCollection(s, w, r, s.base+"/v1.0/$metadata#directoryObjects", all)
}

func (s *Server) serveJoinedTeams(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed()
	}
	if !c.hasAny(teamScopes...) {
		return errScope()
	}
	type teamJSON struct {
		ID          string  `json:"id"`
		DisplayName string  `json:"displayName"`
		Description *string `json:"description"`
		IsArchived  bool    `json:"isArchived"`
		TenantID    string  `json:"tenantId"`
	}
	var all []teamJSON
	for _, g := range c.tenant.GroupsOf(c.user) {
		if g.Team {
			all = append(all, teamJSON{ID: g.ID, DisplayName: g.DisplayName, TenantID: c.tenant.ID})
		}
	}
	return writeCollection(s, w, r, s.base+"/v1.0/$metadata#teams", all)
}

// serveGroup serves /groups/{id}/drive[...] and /groups/{id}/drives.
func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request, c *call, p string) error {
	gid, rest := splitFirst(p)
	g := c.tenant.Group(gid)
	if g == nil || !strings.EqualFold(g.ID, gid) {
		return errorf(http.StatusNotFound, "itemNotFound", "The group could not be found.")
	}
	var site *directory.Site
	if g.Site != "" {
		site = c.tenant.Site(g.Site)
	}
	if rest == "/drives" {
		var refs []directory.DriveRef
		if site != nil {
			for _, lib := range site.Libraries {
				if ref, ok := s.dir.Drive(lib.ID); ok {
					refs = append(refs, ref)
				}
			}
		}
		return s.serveDrives(w, r, c, refs)
	}
	dr, ok := cutSegment(rest, "/drive")
	if !ok {
		return errInvalid("Resource not found for the segment.")
	}
	if site == nil || len(site.Libraries) == 0 {
		return errorf(http.StatusNotFound, "itemNotFound", "The group has no drive.")
	}
	return s.serveDrive(w, r, c, site.Libraries[0].ID, dr)
}

// serveSite serves /sites/{id}, /sites/{host}:/{path}[:] and what follows.
func (s *Server) serveSite(w http.ResponseWriter, r *http.Request, c *call, p string) error {
	if !c.hasAny(siteScopes...) && !c.hasAny("Files.Read.All", "Files.ReadWrite.All") {
		return errScope()
	}
	var st *directory.Site
	var rest string
	first, after := splitFirst(p)
	switch {
	case strings.HasSuffix(first, ":"):
		// {host}:/{server-relative-path}[:[/rest]]
		host := strings.TrimSuffix(first, ":")
		if !strings.EqualFold(host, c.tenant.SharePointHost) {
			return errorf(http.StatusNotFound, "itemNotFound", "Requested site could not be found.")
		}
		sp := after
		if i := strings.Index(sp, ":"); i >= 0 {
			sp, rest = sp[:i], sp[i+1:]
		}
		if strings.Trim(sp, "/") == "" {
			st = rootSite(c.tenant)
		} else {
			st = c.tenant.Site(strings.TrimSuffix(sp, "/"))
		}
	case first == "root" || (strings.EqualFold(first, c.tenant.SharePointHost) && !strings.Contains(first, ",")):
		// /sites/root and /sites/{hostname} are the tenant's root site
		// (Microsoft: "Get a site resource"), the seeded site at "/".
		rest = after
		st = rootSite(c.tenant)
	default:
		rest = after
		parts := strings.Split(first, ",")
		switch {
		case len(parts) == 3 && strings.EqualFold(parts[0], c.tenant.SharePointHost):
			st = c.tenant.Site(parts[1])
			if st != nil && !strings.EqualFold(st.WebID, parts[2]) {
				st = nil
			}
		case len(parts) == 1 && len(first) == 36:
			st = c.tenant.Site(first)
		}
		if st != nil && !strings.EqualFold(st.ID, parts[min(1, len(parts)-1)]) {
			st = nil
		}
	}
	if st == nil {
		return errorf(http.StatusNotFound, "itemNotFound", "Requested site could not be found.")
	}
	if !s.dir.CanSeeSite(st, c.user) {
		return errDenied()
	}
	switch {
	case rest == "" || rest == "/":
		if r.Method != http.MethodGet {
			return methodNotAllowed()
		}
		j := s.siteJSON(c.tenant, st)
		j.Context = s.base + "/v1.0/$metadata#sites/$entity"
		return writeValue(w, http.StatusOK, j)
	case rest == "/drives":
		var refs []directory.DriveRef
		for _, lib := range st.Libraries {
			if ref, ok := s.dir.Drive(lib.ID); ok {
				refs = append(refs, ref)
			}
		}
		return s.serveDrives(w, r, c, refs)
	}
	if dr, ok := strings.CutPrefix(rest, "/drives/"); ok {
		id, dr := splitFirst(dr)
		ref, ok := s.dir.Drive(id)
		if !ok || ref.Site != st {
			return errNotFound("drive")
		}
		return s.serveDrive(w, r, c, id, dr)
	}
	if dr, ok := cutSegment(rest, "/drive"); ok {
		if len(st.Libraries) == 0 {
			return errNotFound("drive")
		}
		return s.serveDrive(w, r, c, st.Libraries[0].ID, dr)
	}
	return errInvalid("Resource not found for the segment.")
}

// rootSite is the tenant's root site: the seeded site whose path is "/"
// (nil if the seed has none).
func rootSite(t *directory.Tenant) *directory.Site {
	for i := range t.Sites {
		if strings.Trim(t.Sites[i].Path, "/") == "" {
			return &t.Sites[i]
		}
	}
	return nil
}

// serveCheckMemberGroups is POST /me/checkMemberGroups (Microsoft:
// "directoryObject: checkMemberGroups"): of up to 20 group ids, those the
// user belongs to, directly or through nested groups ("This function is
// transitive").
func (s *Server) serveCheckMemberGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	if !c.hasAny(memberScopes...) {
		return errScope()
	}
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.GroupIDs == nil {
		return errInvalid("The request body must hold groupIds, a list of group ids.")
	}
	if len(body.GroupIDs) > 20 {
		return errInvalid("checkMemberGroups takes at most 20 group ids.")
	}
	out := struct {
		Context string   `json:"@odata.context"`
		Value   []string `json:"value"`
	}{Context: s.base + "/v1.0/$metadata#Collection(Edm.String)", Value: []string{}}
	for _, g := range c.tenant.TransitiveGroupsOf(c.user) {
		if slices.ContainsFunc(body.GroupIDs, func(id string) bool { return strings.EqualFold(id, g.ID) }) {
			out.Value = append(out.Value, g.ID)
		}
	}
	return writeValue(w, http.StatusOK, out)
}
