package directory

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Access is what a user may do with a drive.
type Access int

// Access levels, ordered.
const (
	AccessNone Access = iota
	AccessRead
	AccessWrite
)

// DriveKind says what owns a drive.
type DriveKind string

// Drive kinds, as Graph's driveType reports them.
const (
	KindBusiness DriveKind = "business"        // a user's OneDrive for Business
	KindLibrary  DriveKind = "documentLibrary" // a SharePoint document library
)

// DriveRef locates a drive in the directory.
type DriveRef struct {
	Tenant *Tenant
	Drive  *Drive
	Kind   DriveKind
	Owner  *User // personal drives only
	Site   *Site // libraries only
}

// Directory is the loaded, normalized directory. It is safe for concurrent
// use. Everything but site membership is immutable after Load; membership
// changes at runtime (SetSiteRole), as an admin's does in SharePoint.
type Directory struct {
	// Immutable after New, but for the sites' Members and Visitors.
	seed   Seed
	apps   map[string]*App // by client ID and identifier URI (lowercased)
	drives map[string]DriveRef
	path   string // the file Load read or wrote; "" for New alone

	// mu guards the Members and Visitors of every site in seed: they are
	// replaced, never changed in place, under mu.
	mu sync.RWMutex
}

const fileName = "directory.json"

// Load returns the directory stored in dataDir, or, on first start, the
// normalized seed, which it then stores there so that a restart keeps the
// same identifiers.
func Load(dataDir string, seed *Seed) (*Directory, error) {
	path := filepath.Join(dataDir, fileName)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var s Seed
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		d, err := New(&s)
		if err != nil {
			return nil, err
		}
		d.path = path
		return d, nil
	case errors.Is(err, os.ErrNotExist):
		if seed == nil {
			return nil, fmt.Errorf("no directory in %s and no seed given", dataDir)
		}
		d, err := New(seed)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		out, err := json.MarshalIndent(&d.seed, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		d.path = path
		return d, nil
	default:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
}

// New normalizes a seed (filling in derived identifiers) and indexes it.
func New(seed *Seed) (*Directory, error) {
	var s Seed
	raw, err := json.Marshal(seed) // deep copy
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	d := &Directory{seed: s, apps: map[string]*App{}, drives: map[string]DriveRef{}}
	graph := App{ClientID: GraphAppID, DisplayName: "Microsoft Graph", IdentifierURI: GraphResource,
		Scopes: []string{"User.Read", "User.Read.All", "Files.Read", "Files.Read.All", "Files.ReadWrite", "Files.ReadWrite.All",
			"Sites.Read.All", "Sites.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All", "Team.ReadBasic.All"}}
	if !slices.ContainsFunc(d.seed.Apps, func(a App) bool { return a.ClientID == GraphAppID }) {
		d.seed.Apps = append(d.seed.Apps, graph)
	}
	for i := range d.seed.Apps {
		a := &d.seed.Apps[i]
		if a.ClientID == "" {
			return nil, fmt.Errorf("seed: app %q has no clientId", a.DisplayName)
		}
		if a.ClientID == GraphAppID {
			// Graph's tokens keep the shape the simulator always gave
			// them (v2.0, with groups); a seed cannot change Microsoft's
			// registration.
			a.RequestedAccessTokenVersion, a.GroupMembershipClaims = 2, "SecurityGroup"
		}
		switch a.RequestedAccessTokenVersion {
		case 0, 1, 2:
		default:
			return nil, fmt.Errorf("seed: app %q: requestedAccessTokenVersion %d (want 1, 2 or none)", a.DisplayName, a.RequestedAccessTokenVersion)
		}
		switch strings.ToLower(a.GroupMembershipClaims) {
		case "", "none", "securitygroup", "applicationgroup", "directoryrole", "all":
		default:
			return nil, fmt.Errorf("seed: app %q: groupMembershipClaims %q (want None, SecurityGroup, ApplicationGroup, DirectoryRole or All)", a.DisplayName, a.GroupMembershipClaims)
		}
		d.apps[strings.ToLower(a.ClientID)] = a
		if a.IdentifierURI != "" {
			d.apps[strings.ToLower(a.IdentifierURI)] = a
		}
	}
	for ti := range d.seed.Tenants {
		t := &d.seed.Tenants[ti]
		if t.Name == "" || len(t.Domains) == 0 {
			return nil, fmt.Errorf("seed: tenant %d needs a name and at least one domain", ti)
		}
		if t.ID == "" {
			t.ID = GUID("tenant", t.Name)
		}
		if t.DisplayName == "" {
			t.DisplayName = t.Name
		}
		if t.SharePointHost == "" {
			t.SharePointHost = t.Name + ".sharepoint.com"
		}
		switch t.SharingCapability {
		case "":
			t.SharingCapability = SharingAnyone
		case SharingAnyone, "ExternalUserSharingOnly", "ExistingExternalUserSharingOnly", "Disabled":
		default:
			return nil, fmt.Errorf("seed: tenant %s: sharingCapability %q (want ExternalUserAndGuestSharing, ExternalUserSharingOnly, ExistingExternalUserSharingOnly or Disabled)", t.Name, t.SharingCapability)
		}
		for ui := range t.Users {
			u := &t.Users[ui]
			if u.UserName == "" {
				return nil, fmt.Errorf("seed: tenant %s: user %d has no userName", t.Name, ui)
			}
			if u.ID == "" {
				u.ID = GUID("user", t.Name, u.UserName)
			}
			if u.DisplayName == "" {
				u.DisplayName = u.UserName
			}
			if u.Drive != nil {
				if err := normDrive(u.Drive, t.Name, "user", u.UserName); err != nil {
					return nil, fmt.Errorf("seed: tenant %s: user %s: %w", t.Name, u.UserName, err)
				}
				d.drives[u.Drive.ID] = DriveRef{Tenant: t, Drive: u.Drive, Kind: KindBusiness, Owner: u}
			}
		}
		for gi := range t.Groups {
			g := &t.Groups[gi]
			if g.ID == "" {
				g.ID = GUID("group", t.Name, g.DisplayName)
			}
		}
		for gi := range t.Groups {
			if err := t.resolveMemberGroups(&t.Groups[gi]); err != nil {
				return nil, fmt.Errorf("seed: tenant %s: %w", t.Name, err)
			}
		}
		for si := range t.Sites {
			st := &t.Sites[si]
			if st.Name == "" {
				return nil, fmt.Errorf("seed: tenant %s: site %d has no name", t.Name, si)
			}
			if st.ID == "" {
				st.ID = GUID("site", t.Name, st.Name)
			}
			if st.WebID == "" {
				st.WebID = GUID("web", t.Name, st.Name)
			}
			if st.Path == "" {
				st.Path = "/sites/" + st.Name
			}
			if st.DisplayName == "" {
				st.DisplayName = st.Name
			}
			for li := range st.Libraries {
				lib := &st.Libraries[li]
				if err := normDrive(lib, t.Name, "site", st.Name, lib.Name); err != nil {
					return nil, fmt.Errorf("seed: tenant %s: site %s: %w", t.Name, st.Name, err)
				}
				d.drives[lib.ID] = DriveRef{Tenant: t, Drive: lib, Kind: KindLibrary, Site: st}
			}
		}
		for _, g := range t.Groups {
			if g.Site != "" && t.Site(g.Site) == nil {
				return nil, fmt.Errorf("seed: tenant %s: group %q names unknown site %q", t.Name, g.DisplayName, g.Site)
			}
		}
	}
	return d, nil
}

// Values of Drive.RewriteOffice.
const (
	RewriteOfficeInResponse = "response"
	RewriteOfficeInDelta    = "delta"
)

func normDrive(dr *Drive, parts ...string) error {
	switch dr.RewriteOffice {
	case "", RewriteOfficeInResponse, RewriteOfficeInDelta:
	default:
		return fmt.Errorf("drive %q: rewriteOffice %q (want %q, %q or none)", dr.Name, dr.RewriteOffice, RewriteOfficeInResponse, RewriteOfficeInDelta)
	}
	if dr.ID == "" {
		dr.ID = DriveID(parts...)
	}
	if dr.Name == "" {
		dr.Name = "Documents"
	}
	if dr.Quota == 0 {
		dr.Quota = 1 << 40
	}
	return nil
}

// GUID derives a stable GUID-shaped identifier from names.
func GUID(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x50 // version 5
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// DriveID derives a stable drive id shaped like SharePoint's "b!..." ids.
func DriveID(parts ...string) string {
	h := sha1.Sum([]byte("drive\x00" + strings.Join(parts, "\x00")))
	long := append(h[:], sha1.New().Sum(h[:8])...)
	return "b!" + base64.RawURLEncoding.EncodeToString(long[:30])
}

// Tenants returns every tenant.
func (d *Directory) Tenants() []*Tenant {
	out := make([]*Tenant, len(d.seed.Tenants))
	for i := range d.seed.Tenants {
		out[i] = &d.seed.Tenants[i]
	}
	return out
}

// Tenant finds a tenant by GUID, short name or verified domain, as an
// authority URL may name it.
func (d *Directory) Tenant(key string) *Tenant {
	key = strings.ToLower(key)
	for i := range d.seed.Tenants {
		t := &d.seed.Tenants[i]
		if strings.ToLower(t.ID) == key || strings.ToLower(t.Name) == key || slices.Contains(t.Domains, key) {
			return t
		}
	}
	return nil
}

// App finds an app registration by client ID or identifier URI.
func (d *Directory) App(key string) *App {
	return d.apps[strings.ToLower(strings.TrimSuffix(key, "/"))]
}

// PublicClient returns the first public client the seed registers (a
// desktop app such as Mapdrive), or nil when it registers none.
func (d *Directory) PublicClient() *App {
	for i := range d.seed.Apps {
		if d.seed.Apps[i].PublicClient {
			return &d.seed.Apps[i]
		}
	}
	return nil
}

// Drive finds a drive by id in any tenant.
func (d *Directory) Drive(id string) (DriveRef, bool) {
	r, ok := d.drives[id]
	return r, ok
}

// Drives returns every drive in every tenant.
func (d *Directory) Drives() []DriveRef {
	out := make([]DriveRef, 0, len(d.drives))
	for _, r := range d.drives {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b DriveRef) int { return strings.Compare(a.Drive.ID, b.Drive.ID) })
	return out
}

// Access reports what user u of tenant t may do with drive r. Drives of
// other tenants are never accessible.
func (d *Directory) Access(t *Tenant, u *User, r DriveRef) Access {
	if t == nil || u == nil || r.Tenant != t {
		return AccessNone
	}
	switch r.Kind {
	case KindBusiness:
		if r.Owner != nil && r.Owner.ID == u.ID {
			return AccessWrite
		}
		return AccessNone
	case KindLibrary:
		acc := d.SiteRole(r.Site, u)
		if acc == AccessWrite && r.Drive.ReadOnly {
			acc = AccessRead
		}
		return acc
	}
	return AccessNone
}

// SiteRole reports what u may do on site s: write as a member, read as a
// visitor, or nothing.
func (d *Directory) SiteRole(s *Site, u *User) Access {
	d.mu.RLock()
	defer d.mu.RUnlock()
	switch {
	case listed(s.Members, u.UserName):
		return AccessWrite
	case listed(s.Visitors, u.UserName):
		return AccessRead
	}
	return AccessNone
}

// CanSeeSite reports whether u may see site s (member or visitor).
func (d *Directory) CanSeeSite(s *Site, u *User) bool { return d.SiteRole(s, u) != AccessNone }

// SetSiteRole makes u a member of site s of tenant t (AccessWrite), a
// visitor (AccessRead), or neither (AccessNone), at once for every later
// request, and stores the change with the directory so that a restart
// keeps it. A site open to everyone ("*") cannot take one user out.
func (d *Directory) SetSiteRole(t *Tenant, s *Site, u *User, role Access) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if role != AccessWrite && slices.Contains(s.Members, "*") || role == AccessNone && slices.Contains(s.Visitors, "*") {
		return fmt.Errorf("site %s lets every user of %s in (\"*\"): one user cannot be taken out", s.Name, t.Name)
	}
	self := func(n string) bool { return strings.EqualFold(n, u.UserName) }
	// Copies: readers holding the old slices keep them unchanged.
	members := slices.DeleteFunc(slices.Clone(s.Members), self)
	visitors := slices.DeleteFunc(slices.Clone(s.Visitors), self)
	switch role {
	case AccessWrite:
		members = append(members, u.UserName)
	case AccessRead:
		visitors = append(visitors, u.UserName)
	}
	prevM, prevV := s.Members, s.Visitors
	s.Members, s.Visitors = members, visitors
	if err := d.storeLocked(); err != nil {
		s.Members, s.Visitors = prevM, prevV
		return err
	}
	return nil
}

// storeLocked writes the directory back to the file it was loaded from,
// atomically; a directory made by New alone is not stored.
func (d *Directory) storeLocked() error {
	if d.path == "" {
		return nil
	}
	out, err := json.MarshalIndent(&d.seed, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return fmt.Errorf("store the directory: %w", err)
	}
	return nil
}

func listed(names []string, user string) bool {
	return slices.Contains(names, "*") || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, user) })
}

// SharingAnyone is the SharingCapability that allows anonymous links.
const SharingAnyone = "ExternalUserAndGuestSharing"

// AnonymousLinks reports whether the tenant lets users create sharing
// links that work without signing in.
func (t *Tenant) AnonymousLinks() bool {
	return t.SharingCapability == "" || t.SharingCapability == SharingAnyone
}

// UPN is the user's principal name in the tenant's first domain.
func (t *Tenant) UPN(u *User) string { return u.UserName + "@" + t.Domains[0] }

// User finds a user by object id, user name or UPN.
func (t *Tenant) User(key string) *User {
	key = strings.ToLower(key)
	for i := range t.Users {
		u := &t.Users[i]
		if strings.ToLower(u.ID) == key || strings.ToLower(u.UserName) == key || strings.ToLower(t.UPN(u)) == key {
			return u
		}
		if name, dom, ok := strings.Cut(key, "@"); ok && name == strings.ToLower(u.UserName) && slices.Contains(t.Domains, dom) {
			return u
		}
	}
	return nil
}

// Group finds a group by id or display name.
func (t *Tenant) Group(key string) *Group {
	for i := range t.Groups {
		g := &t.Groups[i]
		if strings.EqualFold(g.ID, key) || strings.EqualFold(g.DisplayName, key) {
			return g
		}
	}
	return nil
}

// GroupsOf returns the groups user u is a direct member of (Graph's
// /me/memberOf).
func (t *Tenant) GroupsOf(u *User) []*Group {
	var out []*Group
	for i := range t.Groups {
		if listed(t.Groups[i].Members, u.UserName) {
			out = append(out, &t.Groups[i])
		}
	}
	return out
}

// TransitiveGroupsOf returns the groups user u is a member of directly or
// through nested groups (Graph's /me/transitiveMemberOf and
// checkMemberGroups, and the groups claim), each once, in seed order.
func (t *Tenant) TransitiveGroupsOf(u *User) []*Group {
	in := make([]bool, len(t.Groups))
	var queue []int
	for i := range t.Groups {
		if listed(t.Groups[i].Members, u.UserName) {
			in[i], queue = true, append(queue, i)
		}
	}
	// Walk up from each group to the groups that hold it; in[] marks the
	// groups already reached, so a cycle ends the walk instead of looping.
	for len(queue) > 0 {
		child := t.Groups[queue[0]].ID
		queue = queue[1:]
		for i := range t.Groups {
			if !in[i] && slices.Contains(t.Groups[i].MemberGroups, child) {
				in[i], queue = true, append(queue, i)
			}
		}
	}
	var out []*Group
	for i := range t.Groups {
		if in[i] {
			out = append(out, &t.Groups[i])
		}
	}
	return out
}

// unified reports whether g is a Microsoft 365 group (a Team, or a group
// with a connected site) rather than a security group.
func (g *Group) unified() bool { return g.Team || g.Site != "" }

// resolveMemberGroups replaces the names in g.MemberGroups with group ids,
// refusing what Entra refuses: an unknown group, a group in itself, and
// nesting into or of a Microsoft 365 group.
func (t *Tenant) resolveMemberGroups(g *Group) error {
	for i, name := range g.MemberGroups {
		m := t.Group(name)
		switch {
		case m == nil:
			return fmt.Errorf("group %q: member group %q is not a group of the tenant", g.DisplayName, name)
		case m.ID == g.ID:
			return fmt.Errorf("group %q: a group cannot be a member of itself", g.DisplayName)
		case g.unified() || m.unified():
			return fmt.Errorf("group %q: member group %q: only security groups nest, not Microsoft 365 groups (team or site)", g.DisplayName, name)
		}
		g.MemberGroups[i] = m.ID
	}
	return nil
}

// Site finds a site by id, name or server-relative path.
func (t *Tenant) Site(key string) *Site {
	for i := range t.Sites {
		s := &t.Sites[i]
		if strings.EqualFold(s.ID, key) || strings.EqualFold(s.Name, key) || strings.EqualFold(strings.TrimSuffix(s.Path, "/"), strings.TrimSuffix(key, "/")) {
			return s
		}
	}
	return nil
}

// SiteID is the composite Graph id of a site: "host,siteCollectionId,webId".
func (t *Tenant) SiteID(s *Site) string { return t.SharePointHost + "," + s.ID + "," + s.WebID }

// SiteURL is the site's web URL.
func (t *Tenant) SiteURL(s *Site) string { return "https://" + t.SharePointHost + s.Path }

// IsFollowedBy reports whether u follows the site.
func (s *Site) IsFollowedBy(u *User) bool { return listed(s.Followers, u.UserName) }

// RolesOf returns the app roles user u holds on the API app.
func (t *Tenant) RolesOf(u *User, app *App) []string {
	var out []string
	for _, ra := range u.AppRoles {
		if strings.EqualFold(ra.App, app.ClientID) || (app.IdentifierURI != "" && strings.EqualFold(ra.App, app.IdentifierURI)) {
			out = append(out, ra.Role)
		}
	}
	return out
}

// AdminConsented reports whether an admin granted client every scope in
// scopes on resource app res, tenant-wide.
func (t *Tenant) AdminConsented(client string, res *App, scopes []string) bool {
	granted := map[string]bool{}
	for _, c := range t.Consents {
		if !strings.EqualFold(c.ClientID, client) {
			continue
		}
		if !strings.EqualFold(c.Resource, res.ClientID) && !strings.EqualFold(c.Resource, res.IdentifierURI) {
			continue
		}
		for _, s := range c.Scopes {
			granted[strings.ToLower(s)] = true
		}
	}
	for _, s := range scopes {
		if !granted[strings.ToLower(s)] {
			return false
		}
	}
	return true
}
