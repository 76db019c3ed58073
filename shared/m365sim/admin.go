package m365sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph"
)

// identity is what the admin API needs from the Entra ID face.
type identity interface {
	MintAccessToken(tenantID, userID, clientID string, scopes []string) (string, error)
	ApproveDeviceCode(userCode, upn string) error
	RevokeUser(tenantID, userID string) error
}

// drives is what the admin API needs from the Graph face besides its handler.
type drives interface {
	ExpireDownloadURLs()
	ExpireDeltaTokens(driveID, inner string)
}

// actAsScopes are the Graph scopes of tokens minted for act-as requests.
var actAsScopes = []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read"}

// actAsTokenReuse bounds how long a minted act-as token is reused.
const actAsTokenReuse = 5 * time.Minute

// admin serves /_admin/: fault configuration, counters, acting as a user
// and the directory's one-shot operations. It answers loopback clients only.
type admin struct {
	// Immutable after construction.
	dir      *directory.Directory
	gate     *gate
	id       identity
	drives   drives
	graph    http.Handler // the Graph face, without the gate
	now      func() time.Time
	log      *slog.Logger
	info     func() *Info
	clientID string
	mux      *http.ServeMux

	mu     sync.Mutex // guards tokens
	tokens map[userKey]mintedToken
}

type mintedToken struct {
	raw string
	at  time.Time
}

// Info describes the running simulator, as GET /_admin/info returns it.
type Info struct {
	BaseURL  string       `json:"baseUrl"`
	GraphURL string       `json:"graphUrl"`
	CAFile   string       `json:"caFile"`
	Tenants  []TenantInfo `json:"tenants"`
}

// TenantInfo describes one tenant of Info.
type TenantInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Authority string     `json:"authority"`
	Users     []UserInfo `json:"users"`
	Sites     []SiteInfo `json:"sites"`
}

// SiteInfo describes one SharePoint site of TenantInfo.
type SiteInfo struct {
	ID        string      `json:"id"` // Graph's composite id: host,siteId,webId
	Name      string      `json:"name"`
	WebURL    string      `json:"webUrl"`
	Libraries []DriveInfo `json:"libraries"`
}

// DriveInfo describes one document library of SiteInfo.
type DriveInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// UserInfo describes one user of TenantInfo.
type UserInfo struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	UPN      string `json:"upn"`
	DriveID  string `json:"driveId,omitempty"`
}

// Site roles of SiteRole.Role.
const (
	SiteMember  = "member"  // may read and write the site's libraries
	SiteVisitor = "visitor" // may read them
)

// SiteRole is the body of PUT /_admin/sites/{tenant}/{site}/members/{user}.
type SiteRole struct {
	Role string `json:"role"` // SiteMember or SiteVisitor
}

// DeviceCodeApproval is the body of POST /_admin/devicecode/approve.
type DeviceCodeApproval struct {
	UserCode string `json:"user_code"`
	UPN      string `json:"upn"`
}

func newAdmin(a *admin) *admin {
	a.tokens = map[userKey]mintedToken{}
	if a.clientID == "" {
		// The seed's own desktop app acts for users: the demo's, or the
		// one a seed file registers (a seed written like a real tenant's
		// registrations has no demo client at all).
		if c := a.dir.PublicClient(); c != nil {
			a.clientID = c.ClientID
		}
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /_admin/info", a.serveInfo)
	m.HandleFunc("GET /_admin/faults", a.serveFaults)
	m.HandleFunc("PUT /_admin/faults", a.servePutFaults)
	m.HandleFunc("POST /_admin/faults", a.serveAddFault)
	m.HandleFunc("DELETE /_admin/faults", a.serveClearFaults)
	m.HandleFunc("DELETE /_admin/faults/{id}", a.serveRemoveFault)
	m.HandleFunc("GET /_admin/counters", a.serveCounters)
	m.HandleFunc("DELETE /_admin/counters", a.serveResetCounters)
	m.HandleFunc("POST /_admin/devicecode/approve", a.serveApprove)
	m.HandleFunc("POST /_admin/expire-download-urls", a.serveExpireDownloads)
	m.HandleFunc("POST /_admin/expire-delta/{driveId}", a.serveExpireDelta)
	m.HandleFunc("POST /_admin/revoke/{tenant}/{user}", a.serveRevoke)
	m.HandleFunc("PUT /_admin/sites/{tenant}/{site}/members/{user}", a.serveSetSiteRole)
	m.HandleFunc("DELETE /_admin/sites/{tenant}/{site}/members/{user}", a.serveSetSiteRole)
	m.HandleFunc("/_admin/", func(w http.ResponseWriter, r *http.Request) {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", "no admin route "+r.Method+" "+r.URL.Path)
	})
	a.mux = m
	return a
}

// ServeHTTP refuses non-loopback clients, then routes.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r.RemoteAddr) {
		writeAdminError(w, http.StatusForbidden, "accessDenied", "the admin API answers loopback clients only")
		return
	}
	if strings.HasPrefix(r.URL.Path, adminPrefix+"as/") {
		a.serveAs(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const maxAdminBody = 1 << 20

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode request body: trailing data after the JSON value")
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "read request body: "+err.Error())
		return false
	}
	if err := decodeStrict(data, v); err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return false
	}
	return true
}

func (a *admin) serveInfo(w http.ResponseWriter, r *http.Request) {
	writeAdminJSON(w, http.StatusOK, a.info())
}

func (a *admin) serveFaults(w http.ResponseWriter, r *http.Request) {
	writeAdminJSON(w, http.StatusOK, a.gate.faults.snapshot())
}

func (a *admin) servePutFaults(w http.ResponseWriter, r *http.Request) {
	var set FaultSet
	if !readBody(w, r, &set) {
		return
	}
	out, err := a.gate.faults.replace(set)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	a.log.Info("faults replaced", "count", len(out.Faults))
	writeAdminJSON(w, http.StatusOK, out)
}

func (a *admin) serveAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !readBody(w, r, &f) {
		return
	}
	out, err := a.gate.faults.add(f)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	a.log.Info("fault added", "id", out.ID, "kind", out.Kind)
	writeAdminJSON(w, http.StatusCreated, out)
}

func (a *admin) serveClearFaults(w http.ResponseWriter, r *http.Request) {
	a.gate.faults.clear()
	a.log.Info("faults cleared")
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveRemoveFault(w http.ResponseWriter, r *http.Request) {
	if !a.gate.faults.remove(r.PathValue("id")) {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", "no fault "+r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveCounters(w http.ResponseWriter, r *http.Request) {
	writeAdminJSON(w, http.StatusOK, a.gate.counters.snapshot())
}

func (a *admin) serveResetCounters(w http.ResponseWriter, r *http.Request) {
	a.gate.counters.reset(a.now())
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveApprove(w http.ResponseWriter, r *http.Request) {
	var req DeviceCodeApproval
	if !readBody(w, r, &req) {
		return
	}
	if req.UserCode == "" || req.UPN == "" {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "user_code and upn are required")
		return
	}
	if err := a.id.ApproveDeviceCode(req.UserCode, req.UPN); err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "approve device code: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveExpireDownloads(w http.ResponseWriter, r *http.Request) {
	a.drives.ExpireDownloadURLs()
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveExpireDelta(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("driveId")
	if _, ok := a.dir.Drive(id); !ok {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", "no drive "+id)
		return
	}
	inner := r.URL.Query().Get("inner")
	switch inner {
	case "", graph.ResyncApplyDifferences, graph.ResyncUploadDifferences:
	default:
		writeAdminError(w, http.StatusBadRequest, "invalidRequest",
			"inner must be "+graph.ResyncApplyDifferences+" or "+graph.ResyncUploadDifferences)
		return
	}
	a.drives.ExpireDeltaTokens(id, inner)
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) serveRevoke(w http.ResponseWriter, r *http.Request) {
	t, u, err := lookupUser(a.dir, r.PathValue("tenant"), r.PathValue("user"))
	if err != nil {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", err.Error())
		return
	}
	if err := a.id.RevokeUser(t.ID, u.ID); err != nil {
		writeAdminError(w, http.StatusInternalServerError, "generalException", "revoke: "+err.Error())
		return
	}
	a.mu.Lock()
	delete(a.tokens, userKey{tid: strings.ToLower(t.ID), oid: strings.ToLower(u.ID)})
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// serveSetSiteRole grants a user a role on a site (PUT, member or
// visitor) or takes the user's access away (DELETE), effective for the
// next Graph request: site lookups, drive listings, delta, /content and
// uploads all check the directory on every call. A download URL already
// handed out still works until it expires, as a pre-authenticated URL
// needs no token (graph-contract.md, Download).
func (a *admin) serveSetSiteRole(w http.ResponseWriter, r *http.Request) {
	t, u, err := lookupUser(a.dir, r.PathValue("tenant"), r.PathValue("user"))
	if err != nil {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", err.Error())
		return
	}
	st := t.Site(r.PathValue("site"))
	if st == nil {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", "no site "+r.PathValue("site")+" in tenant "+t.Name)
		return
	}
	role, name := directory.AccessNone, "none"
	if r.Method == http.MethodPut {
		var req SiteRole
		if !readBody(w, r, &req) {
			return
		}
		switch name = req.Role; name {
		case SiteMember:
			role = directory.AccessWrite
		case SiteVisitor:
			role = directory.AccessRead
		default:
			writeAdminError(w, http.StatusBadRequest, "invalidRequest", "role must be "+SiteMember+" or "+SiteVisitor)
			return
		}
	}
	if err := a.dir.SetSiteRole(t, st, u, role); err != nil {
		writeAdminError(w, http.StatusConflict, "notAllowed", "set site role: "+err.Error())
		return
	}
	a.log.Info("site access changed", "tenant", t.Name, "site", st.Name, "role", name)
	w.WriteHeader(http.StatusNoContent)
}

// serveAs performs a Graph request as a user:
// METHOD /_admin/as/{tenant}/{user}/{rest} becomes METHOD /v1.0/{rest} with
// a freshly minted token of the act-as client, the query, body and headers
// kept. A rest starting with _download/, _upload/ or _monitor/ goes to that
// pre-authenticated URL unchanged. Act-as traffic bypasses faults and
// counters.
func (a *admin) serveAs(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), adminPrefix+"as/"), "/", 3)
	if len(parts) < 2 {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "want /_admin/as/{tenant}/{user}/{graph path}")
		return
	}
	tenant, err1 := url.PathUnescape(parts[0])
	user, err2 := url.PathUnescape(parts[1])
	if err1 != nil || err2 != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "bad tenant or user in path")
		return
	}
	rest := ""
	if len(parts) == 3 {
		rest = parts[2]
	}
	t, u, err := lookupUser(a.dir, tenant, user)
	if err != nil {
		writeAdminError(w, http.StatusNotFound, "itemNotFound", err.Error())
		return
	}
	path := "/v1.0/" + strings.TrimPrefix(rest, "v1.0/")
	preauth := false
	for _, p := range []string{downloadPrefix, uploadPrefix, monitorPrefix} {
		if strings.HasPrefix("/"+rest, p) {
			path, preauth = "/"+rest, true
		}
	}
	target, err := url.Parse(path)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "invalidRequest", "bad graph path: "+err.Error())
		return
	}
	target.RawQuery = r.URL.RawQuery
	r2 := r.Clone(r.Context())
	r2.URL = target
	r2.RequestURI = target.RequestURI()
	r2.Header.Del("Authorization")
	if !preauth {
		tok, err := a.token(t, u)
		if err != nil {
			writeAdminError(w, http.StatusInternalServerError, "generalException", "mint token: "+err.Error())
			return
		}
		r2.Header.Set("Authorization", "Bearer "+tok)
	}
	a.graph.ServeHTTP(w, r2)
}

// token returns an access token for Graph of user u, reusing a recent one.
func (a *admin) token(t *directory.Tenant, u *directory.User) (string, error) {
	key := userKey{tid: strings.ToLower(t.ID), oid: strings.ToLower(u.ID)}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.tokens[key]; ok && !now.Before(m.at) && now.Sub(m.at) < actAsTokenReuse {
		return m.raw, nil
	}
	if a.clientID == "" {
		return "", errors.New("the seed registers no public client to act as users with (set Config.ActAsClientID)")
	}
	raw, err := a.id.MintAccessToken(t.ID, u.ID, a.clientID, actAsScopes)
	if err != nil {
		return "", err
	}
	a.tokens[key] = mintedToken{raw: raw, at: now}
	return raw, nil
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		writeAdminError(w, http.StatusInternalServerError, "generalException", "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// writeAdminError answers in Graph's error shape, so one decoder serves
// both.
func writeAdminError(w http.ResponseWriter, status int, code, msg string) {
	out, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
