package apitype

// This file holds the wire types of mapdrive-service's REST API (/v1),
// which the client agent calls with an Entra access token for the service
// (scope Mapdrive.Access) and admins call with the Mapdrive.Admin app role.
// Errors come back as application/problem+json bodies decoded into ServiceProblem.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Service API routes. {tid} is the caller's Entra tenant GUID; admin routes
// refuse any other tenant.
const (
	RouteServiceValidate = "/v1/validate"  // POST ValidateRequest → ValidateResponse (client)
	RouteServiceMappings = "/v1/mappings"  // GET → MappingList of the caller's mappings (client)
	RouteServiceLeaseKey = "/v1/lease-key" // GET → LeaseKey (no auth)
	RouteServiceOpenAPI  = "/v1/openapi.json"

	RouteAdminTenant   = "/v1/tenants/{tid}"               // GET → Tenant; DELETE erases the tenant
	RouteAdminMappings = "/v1/tenants/{tid}/mappings"      // GET → AdminMappingList; POST AdminMapping → AdminMapping
	RouteAdminMapping  = "/v1/tenants/{tid}/mappings/{id}" // GET, PUT AdminMapping, DELETE
	RouteAdminOrder    = "/v1/tenants/{tid}/mapping-order" // PUT ReorderRequest → AdminMappingList
	RouteAdminPolicies = "/v1/tenants/{tid}/policies"      // GET, PUT Policies
	RouteAdminAudit    = "/v1/tenants/{tid}/audit"         // GET → AuditList
	RouteAdminExport   = "/v1/tenants/{tid}/export"        // GET → TenantExport
	RouteAdminUsage    = "/v1/tenants/{tid}/seat-usage"    // GET ?days=90 → SeatUsageList
)

// ValidateRequest is the body of POST /v1/validate. All fields are optional.
type ValidateRequest struct {
	ClientVersion string `json:"clientVersion,omitempty"` // e.g. "0.3.0"
	OS            string `json:"os,omitempty"`            // "windows", "darwin", "linux"
	// Features lists the mapping features the client implements
	// (ClientFeatures). The service leaves out every mapping that needs
	// one the client did not list: see Mapping.Requires.
	Features []string `json:"features,omitempty"`
}

// Mapping features that a client must implement to be given a mapping
// that uses them. A client that predates a feature would drop the field it
// does not know, then refuse the whole lease: the mappings it decoded no
// longer match the lease's digest. Worse, had the digest matched, it would
// mount something other than what the admin meant (a whole library for a
// folder). So the service withholds such mappings from it instead.
const (
	FeatureFolderTarget = "folderTarget" // Target.FolderPath
	// FeatureExclusiveEditing: a client that predates check-out would
	// write without checking out, against the admin's option.
	FeatureExclusiveEditing = "exclusiveEditing" // Mapping.ExclusiveEditing
	// FeatureCombined: a client that predates combined drives knows no
	// kind "combined" (Target.Members).
	FeatureCombined = "combinedDrive"
)

// ClientFeatures is what a client built with this package implements:
// every feature above.
func ClientFeatures() []string {
	return []string{FeatureFolderTarget, FeatureExclusiveEditing, FeatureCombined}
}

// Requires lists the features a client needs to mount m as the admin
// meant it; nil for a mapping every client understands.
func (m Mapping) Requires() []string {
	var fs []string
	if m.Target.FolderPath != "" {
		fs = append(fs, FeatureFolderTarget)
	}
	if m.ExclusiveEditing {
		fs = append(fs, FeatureExclusiveEditing)
	}
	if m.Target.Kind == TargetCombined {
		fs = append(fs, FeatureCombined)
	}
	return fs
}

// SupportedMappings keeps, in order, the mappings whose every required
// feature is in features, and counts the others.
func SupportedMappings(ms []Mapping, features []string) (kept []Mapping, withheld int) {
	kept = make([]Mapping, 0, len(ms))
	for _, m := range ms {
		ok := true
		for _, f := range m.Requires() {
			if !slices.Contains(features, f) {
				ok = false
			}
		}
		if ok {
			kept = append(kept, m)
		} else {
			withheld++
		}
	}
	return kept, withheld
}

// ValidateResponse grants the calling user a seat: a signed lease (see
// shared/lease) that the client verifies offline with the pinned LeaseKey,
// the user's mappings and the tenant's policies.
type ValidateResponse struct {
	Lease          string    `json:"lease"`          // "v1.<payload>.<sig>"
	LeaseExpires   time.Time `json:"leaseExpires"`   // same as the lease's expiry
	TenantID       string    `json:"tenantId"`       // the caller's tenant
	Mappings       []Mapping `json:"mappings"`       // in the admin's order; never nil
	MappingsDigest string    `json:"mappingsDigest"` // MappingsDigest(Mappings), also in the lease
	Policies       Policies  `json:"policies"`
}

// MappingList is the answer of GET /v1/mappings.
type MappingList struct {
	Mappings       []Mapping `json:"mappings"`
	MappingsDigest string    `json:"mappingsDigest"`
	Policies       Policies  `json:"policies"`
}

// TargetKind says what a mapping points at.
type TargetKind string

// Target kinds.
const (
	TargetOneDrive   TargetKind = "onedrive"   // the signed-in user's own OneDrive
	TargetSharePoint TargetKind = "sharepoint" // a library, by SiteURL + LibraryName
	TargetDriveID    TargetKind = "driveId"    // a drive, by DriveID
	TargetTeam       TargetKind = "team"       // a Team's default library, by GroupID
	// TargetCombined is one drive whose top-level folders are several
	// libraries (Members), each a target of another kind.
	TargetCombined TargetKind = "combined"
)

// MaxCombinedMembers is how many libraries one combined drive may hold,
// as in the product Mapdrive replaces.
const MaxCombinedMembers = 100

// CombinedMember is one library of a combined drive: the name of its
// top-level folder (unique in the drive, see ValidMemberName) and where
// it is. Its Target is of any kind but combined.
type CombinedMember struct {
	Name   string `json:"name"`
	Target Target `json:"target"`
}

// ValidMemberName reports whether name can be a combined drive's
// top-level folder on every OS: not empty, at most 128 characters, none
// of the characters Windows or SharePoint refuse, no leading or trailing
// space or trailing dot, not "." or "..".
func ValidMemberName(name string) bool {
	return name != "" && len([]rune(name)) <= 128 && !strings.ContainsAny(name, `/\:*?"<>|`) &&
		strings.TrimSpace(name) == name && !strings.HasSuffix(name, ".") && name != ".." && name != "."
}

// OfflinePin is a mapping's offline policy.
type OfflinePin string

// Offline-pin policies.
const (
	PinNone    OfflinePin = "none"    // files are fetched on demand only
	PinAllowed OfflinePin = "allowed" // users may pin files or folders
	PinAll     OfflinePin = "all"     // the whole drive is kept offline
)

// Target locates a drive. Which fields are set depends on Kind:
// sharepoint → SiteURL + LibraryName; driveId → DriveID; team → GroupID;
// onedrive → none. The service may fill DriveID when it knows it.
//
// FolderPath, with any kind, roots the drive at a folder inside it: the
// folder's path from the library's root, "/"-separated with a leading
// "/" and no trailing one ("/Reports/2026"); empty for the whole drive.
// A client that predates it would mount the whole library, so the field
// is omitted when empty and old mappings keep their encoding.
//
// Members, with kind combined only, lists the libraries of a combined
// drive; each user sees those they can reach. Omitted for other kinds, so
// their encoding (and digest) is unchanged.
type Target struct {
	Kind        TargetKind       `json:"kind"`
	SiteURL     string           `json:"siteUrl,omitempty"`     // "https://contoso.sharepoint.com/sites/Finance"
	LibraryName string           `json:"libraryName,omitempty"` // "Documents"
	DriveID     string           `json:"driveId,omitempty"`     // "b!..."
	GroupID     string           `json:"groupId,omitempty"`     // Entra group (Team) GUID
	FolderPath  string           `json:"folderPath,omitempty"`  // "/Reports"
	Members     []CombinedMember `json:"members,omitempty"`
}

// CleanFolderPath normalises a folder path inside a library: "/"
// separators (a pasted backslash too), one leading "/", no trailing or doubled
// "/", and "" for the library's root. ok is false when a segment is "."
// or "..": a target names a folder by its real path, never relatively.
func CleanFolderPath(p string) (clean string, ok bool) {
	var segs []string
	for _, s := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		s = strings.TrimSpace(s)
		switch s {
		case "":
			continue
		case ".", "..":
			return "", false
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return "", true
	}
	return "/" + strings.Join(segs, "/"), true
}

// Mapping is one drive an admin assigned to the user.
type Mapping struct {
	ID              string     `json:"id"`
	DisplayName     string     `json:"displayName"`
	DriveLetter     string     `json:"driveLetter,omitempty"` // Windows, one letter "D".."Z"
	MountName       string     `json:"mountName,omitempty"`   // macOS/Linux directory name
	Target          Target     `json:"target"`
	ReadOnly        bool       `json:"readOnly"`
	OfflinePin      OfflinePin `json:"offlinePin"`
	CacheLimitBytes int64      `json:"cacheLimitBytes,omitempty"` // 0: the tenant default
	Position        int        `json:"position"`                  // admin's order, ascending
	// ExclusiveEditing checks a file out (Graph checkout) before it is
	// opened for writing and checks it in after its upload, so that
	// nobody else edits it meanwhile. Libraries that require check-out
	// get this behaviour without it (docs/checkout.md).
	ExclusiveEditing bool `json:"exclusiveEditing,omitempty"`
}

// Policies are tenant-wide settings for the client.
type Policies struct {
	DeltaPollSeconds       int    `json:"deltaPollSeconds"`           // how often to poll delta
	MinClientVersion       string `json:"minClientVersion,omitempty"` // older clients must update
	DefaultCacheLimitBytes int64  `json:"defaultCacheLimitBytes"`
	OfficeCoauthoring      bool   `json:"officeCoauthoring"`
	// UploadBytesPerSecond and DownloadBytesPerSecond cap the agent's
	// transfers in each direction, across all of the user's drives
	// together; 0 means no limit. Admins set them in MB/s (10^6 bytes).
	UploadBytesPerSecond   int64 `json:"uploadBytesPerSecond,omitempty"`
	DownloadBytesPerSecond int64 `json:"downloadBytesPerSecond,omitempty"`
	// RefreshSeconds is how often the agent refreshes the licence and
	// mappings; 0 means the client's refresh_interval (5 minutes).
	RefreshSeconds int `json:"refreshSeconds,omitempty"`
	// StartJitterSeconds spreads agent starts: at start the agent waits a
	// random delay in [0, StartJitterSeconds) before its first call to
	// the service or Graph, so that machines booting together do not
	// call at the same second. 0 means no delay.
	StartJitterSeconds int `json:"startJitterSeconds,omitempty"`
	// LinkScope is the widest sharing link the client may create
	// (`mapdrive link`, the tray's "Copy link"): LinkScopeOrganization
	// (also when empty), LinkScopeUsers, LinkScopeAnonymous, or
	// LinkScopeNone for no sharing links (web URLs still work).
	LinkScope string `json:"linkScope,omitempty"`
}

// Link scopes of Policies.LinkScope; all but LinkScopeNone are Graph's
// createLink scopes.
const (
	LinkScopeOrganization = "organization"
	LinkScopeUsers        = "users"
	LinkScopeAnonymous    = "anonymous"
	LinkScopeNone         = "none"
)

// SharingLinkScope is the policy's link scope, LinkScopeOrganization when
// none is set (a service from before the policy existed).
func (p Policies) SharingLinkScope() string {
	if p.LinkScope == "" {
		return LinkScopeOrganization
	}
	return p.LinkScope
}

// LeaseKey is the service's lease-signing public key (GET /v1/lease-key),
// for the client to pin.
type LeaseKey struct {
	Alg       string `json:"alg"`       // "Ed25519"
	KeyID     string `json:"kid"`       // lease.KeyID
	PublicKey string `json:"publicKey"` // lease.EncodePublicKey
}

// AdminMapping is a mapping as admins edit it: the mapping plus whom it is
// assigned to (Everyone, or the listed Entra group GUIDs).
type AdminMapping struct {
	Mapping
	Groups   []string `json:"groups,omitempty"`
	Everyone bool     `json:"everyone"`
}

// AdminMappingList is the answer of GET /v1/tenants/{tid}/mappings.
type AdminMappingList struct {
	Mappings []AdminMapping `json:"mappings"`
}

// ReorderRequest lists every mapping id of the tenant in the new order.
type ReorderRequest struct {
	IDs []string `json:"ids"`
}

// Tenant is a tenant's registration as its admins see it.
type Tenant struct {
	ID             string    `json:"id"`
	DisplayName    string    `json:"displayName"`
	Domains        []string  `json:"domains"`
	Seats          int       `json:"seats"`
	SeatsUsed      int       `json:"seatsUsed"` // seats used in the last 30 days
	LicenceExpires time.Time `json:"licenceExpires"`
	Policies       Policies  `json:"policies"`
}

// AuditEntry is one admin action. Actor is a pseudonym, never a UPN.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // e.g. "mapping.create"
	Target string    `json:"target,omitempty"`
}

// AuditList is the answer of GET /v1/tenants/{tid}/audit.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// SeatUsage is the number of seats in use on one UTC day.
type SeatUsage struct {
	Day  string `json:"day"` // "2026-11-25"
	Used int    `json:"used"`
}

// SeatUsageList is the answer of GET /v1/tenants/{tid}/seat-usage, oldest
// day first; days without a record are absent.
type SeatUsageList struct {
	Seats int         `json:"seats"` // licensed seats today
	Days  []SeatUsage `json:"days"`
}

// TenantExport is everything the service holds about a tenant (GDPR
// export).
type TenantExport struct {
	Tenant     Tenant         `json:"tenant"`
	Mappings   []AdminMapping `json:"mappings"`
	Seats      []SeatExport   `json:"seats"`
	Audit      []AuditEntry   `json:"audit"`
	ExportedAt time.Time      `json:"exportedAt"`
}

// SeatExport is one seat: a pseudonymous key and when it was last used.
type SeatExport struct {
	SeatKey   string    `json:"seatKey"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// ServiceProblem is an RFC 9457 application/problem+json error body. Code is a
// stable machine-readable reason; Detail is safe to show to the user.
type ServiceProblem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// Service problem codes (ServiceProblem.Code).
const (
	ServiceCodeBadRequest          = "badRequest"
	ServiceCodeUnauthenticated     = "unauthenticated"     // no, bad or expired token: sign in again
	ServiceCodeForbidden           = "forbidden"           // missing scope or role, other tenant
	ServiceCodeNotFound            = "notFound"            // unknown resource
	ServiceCodeConflict            = "conflict"            // e.g. drive letter taken
	ServiceCodeTooLarge            = "tooLarge"            // request body over the limit
	ServiceCodeRateLimited         = "rateLimited"         // retry after the Retry-After header
	ServiceCodeTenantNotRegistered = "tenantNotRegistered" // the organisation has no Mapdrive licence
	ServiceCodeLicenceExpired      = "licenceExpired"      // the organisation's licence ended
	ServiceCodeSeatsExhausted      = "seatsExhausted"      // every seat is in use
	ServiceCodeDomainNotVerified   = "domainNotVerified"   // the user's domain is not the tenant's
	ServiceCodeClientTooOld        = "clientTooOld"        // update the client
	ServiceCodeInternal            = "internal"
)

// MappingsDigest is the digest of a user's mappings carried in the lease:
// base64url (no padding) of SHA-256 over the JSON encoding of ms. A nil and
// an empty list give the same digest.
func MappingsDigest(ms []Mapping) string {
	if ms == nil {
		ms = []Mapping{}
	}
	b, _ := json.Marshal(ms) // Mapping has no unencodable fields
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
