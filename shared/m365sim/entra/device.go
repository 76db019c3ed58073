package entra

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Device code states.
const (
	devicePending = iota
	deviceApproved
	deviceDeclined
	deviceDenied // consent blocked; err says why
	deviceRedeemed
)

// deviceCode is a device authorization in progress.
type deviceCode struct {
	userCode string
	t        *directory.Tenant // nil for common/organizations
	client   *directory.App
	q        *scopeRequest
	expires  time.Time
	lastPoll time.Time
	status   int
	err      *oauthError // deviceDenied only
	// Set on approval.
	ut       *directory.Tenant
	u        *directory.User
	scopes   []string
	signedIn time.Time
}

// deviceCodeResponse is the device authorization response.
type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request) {
	resp, oe := s.deviceAuthorize(r)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) deviceAuthorize(r *http.Request) (*deviceCodeResponse, *oauthError) {
	form, oe := readForm(r)
	if oe != nil {
		return nil, oe
	}
	t, _, oe := s.tenantFromPath(r)
	if oe != nil {
		return nil, oe
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		return nil, errMissingParam("client_id")
	}
	client := s.lookupClient(clientID)
	if client == nil {
		return nil, errUnknownClient(clientID, r.PathValue("tenant"))
	}
	tenantName := r.PathValue("tenant")
	if t != nil {
		tenantName = t.Name
	}
	q, oe := s.parseScope(form.Get("scope"), tenantName)
	if oe != nil {
		return nil, oe
	}
	now := s.now()
	dc := "DAQABAAEAAAD" + randomToken(96)
	s.mu.Lock()
	for k, d := range s.devices { // forget codes well past expiry
		if now.After(d.expires.Add(deviceCodeLifetime)) {
			delete(s.userCodes, d.userCode)
			delete(s.devices, k)
		}
	}
	uc := s.newUserCodeLocked()
	s.devices[dc] = &deviceCode{userCode: uc, t: t, client: client, q: q, expires: now.Add(deviceCodeLifetime)}
	s.userCodes[uc] = dc
	s.mu.Unlock()
	verify := s.base + "/devicelogin"
	return &deviceCodeResponse{
		UserCode: uc, DeviceCode: dc, VerificationURI: verify,
		ExpiresIn: int(deviceCodeLifetime / time.Second), Interval: int(deviceCodeInterval / time.Second),
		Message: fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, uc),
	}, nil
}

// newUserCodeLocked returns an unused 9-character user code without
// ambiguous letters.
func (s *Server) newUserCodeLocked() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	for {
		b := make([]byte, 9)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		if _, taken := s.userCodes[string(b)]; !taken {
			return string(b)
		}
	}
}

func normUserCode(c string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(c)))
}

func (s *Server) redeemDeviceCode(form url.Values, t *directory.Tenant, multi bool, client *directory.App) (grant, *oauthError) {
	dc := form.Get("device_code")
	if dc == "" {
		return grant{}, errMissingParam("device_code")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[dc]
	if d == nil {
		return grant{}, errGrantOtherClient("device_code")
	}
	if !strings.EqualFold(d.client.ClientID, client.ClientID) || (!multi && d.t != nil && d.t != t) || (!multi && d.t == nil && d.ut != nil && d.ut != t) {
		return grant{}, errGrantOtherClient("device_code")
	}
	if d.status == deviceRedeemed {
		return grant{}, errCodeRedeemed()
	}
	if now.After(d.expires) {
		return grant{}, errDeviceExpired()
	}
	switch d.status {
	case deviceDeclined:
		return grant{}, errDeviceDeclined()
	case deviceDenied:
		return grant{}, d.err
	case devicePending:
		// RFC 8628 3.5: polling faster than the interval earns slow_down.
		fast := !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < deviceCodeInterval
		d.lastPoll = now
		if fast {
			return grant{}, errSlowDown()
		}
		return grant{}, errAuthPending()
	}
	d.status = deviceRedeemed
	return grant{t: d.ut, u: d.u, client: client, q: d.q, scopes: d.scopes, signedIn: d.signedIn}, nil
}

// ErrUnknownUserCode is returned by ApproveDeviceCode for a user code that
// was never issued, is spent, or has expired.
var ErrUnknownUserCode = errors.New("unknown or expired device user code")

// ApproveDeviceCode approves a pending device code as the user with this
// UPN, as the user would at the device-login page. In a tenant that blocks
// user consent, a scope no admin consented makes the approval fail
// (AADSTS90094) and the polling client gets AADSTS65001.
func (s *Server) ApproveDeviceCode(userCode, upn string) error {
	return s.decideDeviceCode(userCode, upn, true)
}

func (s *Server) decideDeviceCode(userCode, upn string, approve bool) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[s.userCodes[normUserCode(userCode)]]
	if d == nil || d.status != devicePending || now.After(d.expires) {
		return ErrUnknownUserCode
	}
	if !approve {
		d.status = deviceDeclined
		return nil
	}
	t, u := s.userByUPN(d.t, upn)
	if u == nil {
		return fmt.Errorf("approve device code: %w", errUnknownUser(upn))
	}
	scopes, oe := s.consentLocked(t, u, d.client, d.q, true)
	if oe != nil {
		d.status, d.err = deviceDenied, errConsentRequired(d.client.ClientID, d.client.DisplayName)
		if oe.aadsts != 90094 {
			d.err = oe
		}
		return fmt.Errorf("approve device code: %w", oe)
	}
	d.status, d.ut, d.u, d.scopes, d.signedIn = deviceApproved, t, u, scopes, now
	return nil
}

// serveDeviceLogin is the verification page: enter the code, pick a user,
// approve or decline.
func (s *Server) serveDeviceLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.render(w, http.StatusOK, "devicecode", devicePage{Code: normUserCode(r.URL.Query().Get("otc"))})
		return
	case http.MethodPost:
	default:
		s.render(w, http.StatusMethodNotAllowed, "devicecode", devicePage{Error: "Use the form."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, "devicecode", devicePage{Error: "The form could not be read."})
		return
	}
	code := normUserCode(r.PostForm.Get("otc"))
	s.mu.Lock()
	d := s.devices[s.userCodes[code]]
	var pg devicePage
	ok := d != nil && d.status == devicePending && !s.now().After(d.expires)
	if ok {
		pg = devicePage{Code: code, AppName: d.client.DisplayName, Permissions: permissionList(d.q)}
		if d.t != nil {
			pg.Tenant = d.t.DisplayName
			for i := range d.t.Users {
				u := &d.t.Users[i]
				pg.Users = append(pg.Users, userOption{UPN: d.t.UPN(u), Name: u.DisplayName})
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		s.render(w, http.StatusBadRequest, "devicecode", devicePage{Code: code, Error: errBadUserCode().msg})
		return
	}
	switch r.PostForm.Get("action") {
	case "decline":
		_ = s.decideDeviceCode(code, "", false)
		s.render(w, http.StatusOK, "message", messagePage{Title: "Sign-in canceled",
			Text: "You have declined to sign in to " + pg.AppName + " on your device. You may now close this window."})
	case "approve":
		upn := r.PostForm.Get("pick")
		if upn == "" {
			upn = r.PostForm.Get("login")
		}
		if err := s.ApproveDeviceCode(code, upn); err != nil {
			var oe *oauthError
			if errors.As(err, &oe) && oe.aadsts == 90094 {
				s.render(w, http.StatusOK, "message", messagePage{Title: "Need admin approval",
					Text: pg.AppName + " needs permission to access resources in your organization that only an admin can grant.",
					Code: "AADSTS90094: " + oe.msg})
				return
			}
			pg.Error = "That account was not found here. Check the UPN and try again."
			s.render(w, http.StatusOK, "devicepick", pg)
			return
		}
		s.render(w, http.StatusOK, "message", messagePage{Title: pg.AppName,
			Text: "You have signed in to the " + pg.AppName + " application on your device. You may now close this window."})
	default:
		s.render(w, http.StatusOK, "devicepick", pg)
	}
}
