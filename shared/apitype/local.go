// Package apitype holds the wire types Mapdrive's processes exchange: the
// agent's local API (this file), used by the CLI and the tray through
// client/localclient, and the service API. It depends on the standard
// library only, so every binary can import it cheaply.
package apitype

import "time"

// LocalAPIVersion is the path prefix of every local API route.
const LocalAPIVersion = "/v1"

// Local API routes, relative to the socket's HTTP root.
const (
	RouteStatus      = "/v1/status"       // GET  → Status
	RouteStatusWatch = "/v1/status/watch" // GET  → stream of Status, one JSON object per line
	RouteLogin       = "/v1/login"        // POST LoginRequest → LoginResponse
	RouteLoginWait   = "/v1/login/wait"   // POST → Account, when a started login completes
	RouteLogout      = "/v1/logout"       // POST → Ack
	RouteWhoAmI      = "/v1/whoami"       // GET  → Account
	RouteDrives      = "/v1/drives"       // GET  → DriveList
	RouteMount       = "/v1/mount"        // POST MountRequest → Drive
	RouteUnmount     = "/v1/unmount"      // POST UnmountRequest → Drive
	RoutePause       = "/v1/uploads/pause"
	RouteResume      = "/v1/uploads/resume"
	RoutePin         = "/v1/pin"      // POST PinRequest → Ack
	RouteUnpin       = "/v1/unpin"    // POST PinRequest → Ack
	RouteSettings    = "/v1/settings" // GET → Settings; PUT SettingsUpdate → Settings
	RouteVersion     = "/v1/version"  // GET → VersionInfo
	RouteRefresh     = "/v1/refresh"  // POST → Status, after licence, mappings and drives are refreshed
	RouteWebURL      = "/v1/weburl"   // POST LinkRequest → Link (WebURL only)
	RouteLink        = "/v1/link"     // POST LinkRequest → Link (a sharing link at the tenant's scope)
)

// SignInState is where the agent is with the user's Microsoft 365 sign-in.
type SignInState string

// Sign-in states.
const (
	SignedOut     SignInState = "signed_out"
	SigningIn     SignInState = "signing_in"
	SignedIn      SignInState = "signed_in"
	SignInExpired SignInState = "expired" // refresh failed; the user must sign in again
)

// DriveState is the state of one drive in the agent.
type DriveState string

// Drive states.
const (
	DriveUnmounted DriveState = "unmounted"
	DriveMounting  DriveState = "mounting"
	DriveMounted   DriveState = "mounted"
	DriveError     DriveState = "error"
)

// DriveSource tells where the agent learnt of a drive.
type DriveSource string

// Drive sources.
const (
	SourceAssigned   DriveSource = "assigned"   // an admin's mapping from the service
	SourceDiscovered DriveSource = "discovered" // found through Graph (OneDrive, followed sites, Teams)
)

// LicenceState is the state of the user's Mapdrive licence lease.
type LicenceState string

// Licence states.
const (
	LicenceUnknown LicenceState = "unknown" // not checked yet (not signed in)
	LicenceValid   LicenceState = "valid"   // fresh lease from the service
	LicenceCached  LicenceState = "cached"  // service unreachable; a stored lease still valid is in use
	LicenceExpired LicenceState = "expired" // the last lease expired and the service is unreachable
	LicenceRefused LicenceState = "refused" // the service refused the licence (e.g. no seats left)
)

// Status is the agent's whole state at one moment. GET RouteStatus returns
// it; RouteStatusWatch streams a new one every time something changes.
type Status struct {
	AgentVersion  string        `json:"agent_version"`
	SignIn        SignInState   `json:"sign_in"`
	Account       *Account      `json:"account,omitempty"` // nil when signed out
	Licence       Licence       `json:"licence"`
	Online        bool          `json:"online"` // Microsoft 365 reachable at the last attempt
	UploadsPaused bool          `json:"uploads_paused"`
	Bandwidth     Bandwidth     `json:"bandwidth"`
	Drives        []Drive       `json:"drives"`
	Transfers     []Transfer    `json:"transfers"`
	Errors        []Problem     `json:"errors"`
	Conflicts     []Conflict    `json:"conflicts"`
	Login         *LoginPrompt  `json:"login,omitempty"` // a sign-in in progress
	Settings      Settings      `json:"settings"`
	Updated       time.Time     `json:"updated"`
	Seq           uint64        `json:"seq"` // grows by one with every change
	Detail        *StatusDetail `json:"detail,omitempty"`
}

// Bandwidth is the tenant's transfer limits as the agent applies them,
// and whether they hold transfers back right now.
type Bandwidth struct {
	UploadLimit     int64 `json:"upload_limit,omitempty"`   // bytes per second; 0: none
	DownloadLimit   int64 `json:"download_limit,omitempty"` // bytes per second; 0: none
	UploadLimited   bool  `json:"upload_limited"`           // uploads waited for the limit in the last seconds
	DownloadLimited bool  `json:"download_limited"`         // downloads waited for the limit in the last seconds
}

// StatusDetail holds rarely needed diagnostics.
type StatusDetail struct {
	Authority  string `json:"authority,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
	ServiceURL string `json:"service_url,omitempty"`
	GraphURL   string `json:"graph_url,omitempty"`
	Socket     string `json:"socket,omitempty"`
}

// Account is the signed-in Microsoft 365 user.
type Account struct {
	Username    string `json:"username"` // UPN; shown to the user, never logged
	DisplayName string `json:"display_name"`
	TenantID    string `json:"tenant_id"`
	UserID      string `json:"user_id"` // Entra object id
}

// Licence is the state of the licence lease.
type Licence struct {
	State     LicenceState `json:"state"`
	ExpiresAt time.Time    `json:"expires_at,omitzero"`
	Message   string       `json:"message,omitempty"` // plain words for the user when not valid
}

// Drive is one drive the agent knows of: an assigned mapping or a drive
// discovered through Graph, mounted or not.
type Drive struct {
	// ID is the key the CLI and tray use (the mapping id for an assigned
	// drive, the Graph drive id otherwise).
	ID         string      `json:"id"`
	Name       string      `json:"name"`        // display name, e.g. "Finance"
	Kind       string      `json:"kind"`        // "onedrive", "sharepoint" or "team"
	Target     string      `json:"target"`      // human description, e.g. "Finance › Documents"
	DriveID    string      `json:"drive_id"`    // Graph drive id, when resolved
	Source     DriveSource `json:"source"`      // assigned or discovered
	AutoMount  bool        `json:"auto_mount"`  // mounted at agent start
	ReadOnly   bool        `json:"read_only"`   // library or mapping is read-only
	State      DriveState  `json:"state"`       // unmounted, mounting, mounted, error
	Mountpoint string      `json:"mountpoint"`  // path or drive letter ("X:") when mounted or planned
	CacheBytes int64       `json:"cache_bytes"` // content cache use on disk
	// PendingUploads counts changes waiting in the upload queue (while
	// offline, paused or retrying).
	PendingUploads int      `json:"pending_uploads"`
	Error          *Problem `json:"error,omitempty"` // why State is DriveError
}

// DriveList is the answer of RouteDrives.
type DriveList struct {
	Drives []Drive `json:"drives"`
}

// TransferDirection is upload or download.
type TransferDirection string

// Transfer directions.
const (
	Upload   TransferDirection = "upload"
	Download TransferDirection = "download"
)

// Transfer is one upload or download in progress or queued.
type Transfer struct {
	ID        string            `json:"id"`
	Drive     string            `json:"drive"` // Drive.ID
	Path      string            `json:"path"`  // path inside the drive
	Direction TransferDirection `json:"direction"`
	Done      int64             `json:"done"`  // bytes transferred
	Total     int64             `json:"total"` // bytes in all; 0 when unknown
	State     string            `json:"state"` // "queued", "active", "retrying", "paused"
	Attempts  int               `json:"attempts,omitempty"`
	LastError string            `json:"last_error,omitempty"`
}

// Problem codes: every error the local API returns, and every problem in
// Status.Errors, carries one of these so the CLI and tray can react.
const (
	CodeBadRequest         = "bad_request"
	CodeUnknownDrive       = "unknown_drive"
	CodeMappingRemoved     = "mapping_removed" // unmounted once its uploads are done
	CodeMountpointBusy     = "mountpoint_busy"
	CodeMountpointNotEmpty = "mountpoint_not_empty"
	CodeDriveLetterInUse   = "drive_letter_in_use"
	CodeAlreadyMounted     = "already_mounted"
	CodeNotMounted         = "not_mounted"
	CodeNotSignedIn        = "not_signed_in"
	CodeSignInExpired      = "sign_in_expired"
	CodeConsentRequired    = "consent_required"
	CodeOffline            = "offline"
	CodeServiceUnreachable = "service_unreachable"
	CodeLicenceRefused     = "licence_refused"
	CodeLicenceExpired     = "licence_expired"
	CodeLeaseInvalid       = "lease_invalid"
	CodeKeyringUnavailable = "keyring_unavailable"
	CodeMountFailed        = "mount_failed"
	// CodeMountDriverMissing is a mount refused because the OS's FUSE
	// driver (WinFsp, macFUSE, libfuse) is not installed: the tray shows
	// how to install it, once, at first run.
	CodeMountDriverMissing = "mount_driver_missing"
	CodeUploadFailed       = "upload_failed"
	CodeQuotaFull          = "quota_full"
	CodeNameRefused        = "name_refused" // a name SharePoint does not accept; the user must rename
	// CodeUnavailableOffline names folders that were never listed while
	// online: offline they show empty until the connection returns.
	CodeUnavailableOffline = "unavailable_offline"
	// CodeNotDeleted names a file whose delete the server refused because
	// someone else had changed it; their version stays.
	CodeNotDeleted = "not_deleted"
	// CodeCheckedOut names a file someone else has checked out: it opens
	// read-only until they check it in; the message names them.
	CodeCheckedOut = "checked_out"
	// CodeFolderMissing names a drive mapped to a folder that is gone
	// from where the mapping says: deleted, renamed or moved on the
	// server, or a path that is a file. Local changes are kept.
	CodeFolderMissing = "folder_missing"
	// CodeCombinedTop names a change refused at a combined drive's top
	// level, whose folders are the libraries the admin chose.
	CodeCombinedTop     = "combined_top"
	CodeLoginInProgress = "login_in_progress"
	CodeLinksDisabled   = "links_disabled" // the tenant's link policy forbids sharing links
	CodeNotInDrive      = "not_in_drive"   // a local path outside every mounted drive
	CodeNotFound        = "not_found"      // a file or folder Microsoft 365 does not have
	CodeNotImplemented  = "not_available"
	CodeInternal        = "internal"
)

// Problem is an error in plain words: what happened and what to do.
type Problem struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`          // what happened, no final full stop
	Action  string    `json:"action,omitempty"` // what to do about it, a sentence
	Drive   string    `json:"drive,omitempty"`  // Drive.ID it concerns, if any
	URL     string    `json:"url,omitempty"`    // e.g. the admin-consent URL
	Time    time.Time `json:"time,omitzero"`
}

// Error is the body of every non-2xx local API answer.
type Error struct {
	Problem
}

// Conflict is a file edited both locally and remotely; both versions were kept.
type Conflict struct {
	Drive        string    `json:"drive"`         // Drive.ID
	Path         string    `json:"path"`          // the original, now the remote version
	ConflictPath string    `json:"conflict_path"` // the local version, uploaded beside it
	Time         time.Time `json:"time"`
}

// LoginRequest starts a sign-in.
type LoginRequest struct {
	// DeviceCode selects the device-code flow (headless machines);
	// otherwise the interactive system-browser flow is used.
	DeviceCode bool `json:"device_code"`
}

// LoginPrompt is what the user must do to finish a sign-in in progress.
type LoginPrompt struct {
	DeviceCode      bool      `json:"device_code"`
	Message         string    `json:"message"`                    // the text to show, as Entra words it
	VerificationURL string    `json:"verification_url,omitempty"` // device code: where to go
	UserCode        string    `json:"user_code,omitempty"`        // device code: what to type
	AuthURL         string    `json:"auth_url,omitempty"`         // interactive: the URL opened in the browser
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
}

// LoginResponse is the answer of RouteLogin. When Account is set the user
// was already signed in (or silent sign-in worked); otherwise Prompt says
// what to do and RouteLoginWait blocks until the sign-in completes.
type LoginResponse struct {
	Account *Account     `json:"account,omitempty"`
	Prompt  *LoginPrompt `json:"prompt,omitempty"`
}

// MountRequest mounts a drive.
type MountRequest struct {
	Drive      string `json:"drive"`                // Drive.ID or its name (case-insensitive)
	Mountpoint string `json:"mountpoint,omitempty"` // path or "X:"; empty picks the default
}

// UnmountRequest unmounts a drive given by id, name or mountpoint.
type UnmountRequest struct {
	Target string `json:"target"`
}

// PinRequest keeps a file or folder offline (pin) or lets the cache evict it.
type PinRequest struct {
	Drive string `json:"drive"` // Drive.ID or name
	Path  string `json:"path"`  // path inside the drive; "/" for all of it
}

// LinkRequest names a file or folder to link to: an absolute local path
// inside a mounted drive, or a drive (Drive.ID or name) and a path inside
// it.
type LinkRequest struct {
	Path  string `json:"path"`
	Drive string `json:"drive,omitempty"`
}

// Link is where a file or folder lives on the web.
type Link struct {
	Drive  string `json:"drive"`  // Drive.ID
	Path   string `json:"path"`   // path inside the drive, "/a/b.txt"
	WebURL string `json:"webUrl"` // opens the item in the browser for people who can already reach it
	// URL is the sharing link (RouteLink only), of Type "view" at Scope,
	// the tenant's LinkScope policy.
	URL   string `json:"url,omitempty"`
	Type  string `json:"type,omitempty"`
	Scope string `json:"scope,omitempty"`
}

// Pin is one "keep offline" file or folder.
type Pin struct {
	Drive string `json:"drive"`
	Path  string `json:"path"`
}

// Settings are the user's adjustable settings.
type Settings struct {
	CacheMaxGB float64 `json:"cache_max_gb"` // 0 means the default (10% of free disk, at most 20)
	Autostart  bool    `json:"autostart"`    // start the tray and agent at login
	MountRoot  string  `json:"mount_root"`   // where drives mount by default
	Pins       []Pin   `json:"pins"`
}

// SettingsUpdate changes some settings; nil fields are left alone.
type SettingsUpdate struct {
	CacheMaxGB *float64 `json:"cache_max_gb,omitempty"`
	Autostart  *bool    `json:"autostart,omitempty"`
}

// Ack is the answer of requests that return nothing else.
type Ack struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// VersionInfo is the agent's version.
type VersionInfo struct {
	Version string `json:"version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// Error implements the error interface: the message, then what to do.
func (e *Error) Error() string {
	if e.Action == "" {
		return e.Message
	}
	return e.Message + ". " + e.Action
}

// NewError returns an *Error with code, message and action.
func NewError(code, message, action string) *Error {
	return &Error{Problem{Code: code, Message: message, Action: action}}
}
