// Package directory owns the simulator's Entra directory: tenants, users,
// groups, registered applications, consents and SharePoint sites with their
// document libraries, as declared by a seed. The directory is fixed once it
// is loaded; runtime state (files, tokens, consents granted at sign-in) lives
// with the component that changes it.
package directory

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// GraphAppID is the well-known client ID of Microsoft Graph as a resource.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// GraphResource is Graph's resource URI, the audience prefix of Graph scopes.
const GraphResource = "https://graph.microsoft.com"

// Seed declares everything the simulator starts with.
type Seed struct {
	// Apps are multi-tenant app registrations. Microsoft Graph is built in
	// and need not be declared.
	Apps    []App    `yaml:"apps" json:"apps"`
	Tenants []Tenant `yaml:"tenants" json:"tenants"`
}

// App is an app registration.
type App struct {
	ClientID     string   `yaml:"clientId" json:"clientId"`
	DisplayName  string   `yaml:"displayName" json:"displayName"`
	PublicClient bool     `yaml:"publicClient" json:"publicClient"`
	Secret       string   `yaml:"secret,omitempty" json:"secret,omitempty"` // confidential clients only
	RedirectURIs []string `yaml:"redirectUris" json:"redirectUris"`
	// IdentifierURI is the App ID URI of an app that exposes an API,
	// such as "api://mapdrive". Scopes may name it or the client ID.
	IdentifierURI string `yaml:"identifierUri,omitempty" json:"identifierUri,omitempty"`
	// Scopes are the delegated permissions the API exposes.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// AppRoles are the roles the API defines, assigned to users per tenant.
	AppRoles []string `yaml:"appRoles,omitempty" json:"appRoles,omitempty"`
	// RequestedAccessTokenVersion is the manifest's
	// api.requestedAccessTokenVersion: the version of the access tokens
	// Entra issues for this API, whatever endpoint the client used. 0
	// (null, Entra's default) and 1 give v1.0 tokens, 2 gives v2.0.
	RequestedAccessTokenVersion int `yaml:"requestedAccessTokenVersion,omitempty" json:"requestedAccessTokenVersion,omitempty"`
	// GroupMembershipClaims is the manifest's groupMembershipClaims:
	// "SecurityGroup", "ApplicationGroup" or "All" put a groups claim in
	// this API's access tokens; "" or "None" (the default) leave it out.
	GroupMembershipClaims string `yaml:"groupMembershipClaims,omitempty" json:"groupMembershipClaims,omitempty"`
}

// AccessTokenVersion is the version of the access tokens issued for the
// app as a resource: 1 unless the registration asks for 2.
func (a *App) AccessTokenVersion() int {
	if a.RequestedAccessTokenVersion == 2 {
		return 2
	}
	return 1
}

// GroupClaims reports whether the registration asks for a groups claim.
// The simulator treats "ApplicationGroup" like "SecurityGroup": it does not
// model assigning groups to an app.
func (a *App) GroupClaims() bool {
	switch strings.ToLower(a.GroupMembershipClaims) {
	case "securitygroup", "applicationgroup", "all":
		return true
	}
	return false
}

// Tenant is one Entra tenant with its SharePoint.
type Tenant struct {
	ID          string `yaml:"id" json:"id"` // GUID
	Name        string `yaml:"name" json:"name"`
	DisplayName string `yaml:"displayName" json:"displayName"`
	// Domains are the verified domains; the first is the UPN suffix of users.
	Domains        []string `yaml:"domains" json:"domains"`
	SharePointHost string   `yaml:"sharePointHost" json:"sharePointHost"`
	// UserConsentBlocked reports whether tenant policy stops users from
	// consenting to apps themselves (sign-in then fails with AADSTS65001
	// unless an admin consented).
	UserConsentBlocked bool `yaml:"userConsentBlocked" json:"userConsentBlocked"`
	// SharingCapability is the tenant's SharePoint sharing setting, as
	// Set-SPOTenant -SharingCapability names it: "ExternalUserAndGuestSharing"
	// ("Anyone", SharePoint's default, and the default here) allows
	// anonymous sharing links; "ExternalUserSharingOnly",
	// "ExistingExternalUserSharingOnly" and "Disabled" do not ("Anonymous
	// link support may be disabled by an administrator", driveItem:
	// createLink).
	SharingCapability string    `yaml:"sharingCapability,omitempty" json:"sharingCapability,omitempty"`
	Consents          []Consent `yaml:"consents" json:"consents"`
	Users             []User    `yaml:"users" json:"users"`
	Groups            []Group   `yaml:"groups" json:"groups"`
	Sites             []Site    `yaml:"sites" json:"sites"`
}

// Consent is an admin's tenant-wide grant of delegated scopes to a client on
// a resource (Graph or an API app).
type Consent struct {
	ClientID string `yaml:"clientId" json:"clientId"`
	// Resource is the resource app's client ID or identifier URI.
	Resource string   `yaml:"resource" json:"resource"`
	Scopes   []string `yaml:"scopes" json:"scopes"`
}

// User is a member of a tenant.
type User struct {
	ID          string `yaml:"id" json:"id"` // object id (oid), GUID
	UserName    string `yaml:"userName" json:"userName"`
	DisplayName string `yaml:"displayName" json:"displayName"`
	// AppRoles assigns app roles of API apps to the user in this tenant.
	AppRoles []RoleAssignment `yaml:"appRoles,omitempty" json:"appRoles,omitempty"`
	// Drive is the user's OneDrive; nil means none is provisioned.
	Drive *Drive `yaml:"drive,omitempty" json:"drive,omitempty"`
}

// RoleAssignment gives a user an app role of an API app.
type RoleAssignment struct {
	App  string `yaml:"app" json:"app"` // client ID or identifier URI
	Role string `yaml:"role" json:"role"`
}

// Group is an Entra group; a Team when Team is set. A group with Team or
// Site set is a Microsoft 365 group, any other a security group.
type Group struct {
	ID          string   `yaml:"id" json:"id"`
	DisplayName string   `yaml:"displayName" json:"displayName"`
	Members     []string `yaml:"members" json:"members"` // user names
	// MemberGroups names (by display name or id) the groups nested in this
	// one: their members, and their nested groups' members, are members of
	// this group too, transitively, as /me/transitiveMemberOf,
	// checkMemberGroups and the groups claim see it; /me/memberOf lists
	// direct memberships only. As in Entra, only security groups nest: a
	// Microsoft 365 group neither holds nor joins another group
	// (https://learn.microsoft.com/entra/fundamentals/how-to-manage-groups,
	// "Add or remove a group from another group"). The directory stores
	// them as ids. A cycle is allowed and harmless.
	MemberGroups []string `yaml:"memberGroups,omitempty" json:"memberGroups,omitempty"`
	Team         bool     `yaml:"team" json:"team"`
	// Site names the group-connected site whose first library is the
	// group's drive (/groups/{id}/drive).
	Site string `yaml:"site,omitempty" json:"site,omitempty"`
}

// Site is a SharePoint site collection's root web.
type Site struct {
	ID          string `yaml:"id" json:"id"`       // site collection GUID
	WebID       string `yaml:"webId" json:"webId"` // root web GUID
	Name        string `yaml:"name" json:"name"`
	DisplayName string `yaml:"displayName" json:"displayName"`
	Path        string `yaml:"path" json:"path"` // server-relative, "/sites/Finance"
	// Members may write; Visitors may read. "*" means every tenant user.
	Members  []string `yaml:"members" json:"members"`
	Visitors []string `yaml:"visitors" json:"visitors"`
	// Followers are the users who follow the site: /me/followedSites
	// lists only those sites, not every site a user can reach.
	Followers []string `yaml:"followers,omitempty" json:"followers,omitempty"`
	Libraries []Drive  `yaml:"libraries" json:"libraries"`
}

// Drive is a OneDrive or a document library and its initial content.
type Drive struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// ReadOnly makes the library read-only even for site members.
	ReadOnly bool `yaml:"readOnly" json:"readOnly"`
	// RewriteOffice makes the library rewrite Office documents (docx, xlsx,
	// pptx and their macro forms) after upload, as SharePoint does when it
	// embeds its column properties (graph-contract.md, Uploads): "response"
	// shows the rewritten size and hash in the upload's answer, "delta"
	// answers with what was sent and shows the rewrite only as a later
	// change. "" (the default) keeps what was sent.
	RewriteOffice string `yaml:"rewriteOffice,omitempty" json:"rewriteOffice,omitempty"`
	// RequireCheckout is SharePoint's "Require Check Out" library setting:
	// a file must be checked out before a save replaces it, and a new file
	// stays checked out to its author until checked in (docs/checkout.md).
	RequireCheckout bool `yaml:"requireCheckout,omitempty" json:"requireCheckout,omitempty"`
	// System hides the drive from listings unless $select asks for system.
	System bool     `yaml:"system" json:"system"`
	Quota  ByteSize `yaml:"quota" json:"quota"`
	Files  []File   `yaml:"files" json:"files"`
}

// File declares seeded content. A Path ending in "/" declares a folder.
type File struct {
	Path string `yaml:"path" json:"path"`
	// Content is literal content; without it the file holds Size
	// deterministic pseudo-random bytes.
	Content string   `yaml:"content,omitempty" json:"content,omitempty"`
	Size    ByteSize `yaml:"size,omitempty" json:"size,omitempty"`
	// Count > 0 generates Count files; "{n}" in Path is replaced by 1..Count.
	Count int `yaml:"count,omitempty" json:"count,omitempty"`
}

// ByteSize is a size in bytes that a seed may write as a number or as a
// string with a unit: "4 KiB", "1GiB", "10 MB".
type ByteSize int64

// UnmarshalYAML accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalJSON accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses "4096", "4 KiB", "1GiB", "10MB".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 4KiB or 1GiB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s, unit)
	}
	return ByteSize(f * mult), nil
}

// ParseSeed reads a seed written in YAML or JSON (JSON is YAML).
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	trimmed := strings.TrimSpace(string(data))
	var err error
	if strings.HasPrefix(trimmed, "{") {
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.DisallowUnknownFields()
		err = dec.Decode(&s)
	} else {
		dec := yaml.NewDecoder(strings.NewReader(trimmed))
		dec.KnownFields(true)
		err = dec.Decode(&s)
	}
	if err != nil {
		return nil, fmt.Errorf("parse seed: %w", err)
	}
	return &s, nil
}

// LoadSeed reads a seed file, or the built-in seed when name is "demo".
func LoadSeed(name string) (*Seed, error) {
	if name == "demo" || name == "" {
		return DemoSeed(), nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	return ParseSeed(data)
}
