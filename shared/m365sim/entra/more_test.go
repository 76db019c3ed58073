package entra

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func TestFragmentResponseMode(t *testing.T) {
	e := newEnv(t)
	p := pkceParams(pubClient, "http://localhost:5002", graphScope)
	p.Set("response_mode", "fragment")
	page := e.base + "/contoso/oauth2/v2.0/authorize?" + p.Encode()
	_, body := e.get(t, page)
	resp := e.submit(t, page, firstForm(t, body), url.Values{"pick": {"alice"}})
	readBody(t, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != 302 || loc.RawQuery != "" {
		t.Fatalf("redirect = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	frag, _ := url.ParseQuery(loc.Fragment)
	if frag.Get("code") == "" || frag.Get("state") != "st-123" {
		t.Errorf("fragment = %v", frag)
	}
}

func TestRefreshRotation(t *testing.T) {
	// Entra returns a new refresh token on each refresh; the old one stays
	// valid until it expires.
	e := newEnv(t)
	tok := e.signIn(t, "contoso", "alice", graphScope)
	old := tok["refresh_token"].(string)
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}, "refresh_token": {old}, "scope": {"User.Read"}}
	status, body := e.post(t, "/contoso/oauth2/v2.0/token", form)
	if status != 200 || body["refresh_token"] == old || body["refresh_token"] == nil {
		t.Fatalf("refresh = %d, new token %v", status, body["refresh_token"] != old)
	}
	if body["id_token"] != nil {
		t.Errorf("id_token issued though openid was not asked")
	}
	if status, _ := e.post(t, "/contoso/oauth2/v2.0/token", form); status != 200 {
		t.Errorf("old refresh token after rotation = %d", status)
	}
	if status, _ := e.post(t, "/contoso/oauth2/v2.0/token", cloneWith(form, "refresh_token", body["refresh_token"].(string))); status != 200 {
		t.Errorf("new refresh token = %d", status)
	}
}

func TestDeviceLoginConsentBlockedAndCommon(t *testing.T) {
	e := newEnv(t)
	page := e.base + "/devicelogin"
	dc := e.deviceCode(t, "northwind", pubClient, graphScope)
	resp := e.submitRaw(t, page, url.Values{"otc": {dc["user_code"].(string)}, "action": {"approve"}, "pick": {"nina@northwind.com"}})
	if b := readBody(t, resp); !strings.Contains(b, "Need admin approval") || !strings.Contains(b, "AADSTS90094") {
		t.Errorf("blocked approval page:\n%s", b)
	}
	dc = e.deviceCode(t, "common", pubClient, graphScope)
	resp = e.submitRaw(t, page, url.Values{"otc": {dc["user_code"].(string)}})
	b := readBody(t, resp)
	if strings.Contains(b, "Alice Anders") || !strings.Contains(b, `name="login"`) {
		t.Errorf("common device page should ask for a UPN, not list users:\n%s", b)
	}
	resp = e.submit(t, page, firstForm(t, b), url.Values{"login": {"fiona@fabrikam.com"}})
	if b := readBody(t, resp); !strings.Contains(b, "You have signed in") {
		t.Fatalf("approve:\n%s", b)
	}
	status, tok := e.post(t, "/common/oauth2/v2.0/token", url.Values{"grant_type": {"device_code"}, "client_id": {pubClient},
		"device_code": {dc["device_code"].(string)}})
	if status != 200 {
		t.Fatalf("poll = %d %v", status, tok)
	}
	if c := e.claims(t, tok["access_token"].(string)); c["tid"] != directory.DemoFabrikamID {
		t.Errorf("tid = %v", c["tid"])
	}
}

// TestConcurrentGrants runs sign-ins, refreshes, mints and revocations at
// once, for the race detector.
func TestConcurrentGrants(t *testing.T) {
	e := newEnv(t)
	tok := e.signIn(t, "contoso", "alice", graphScope)
	rt := tok["refresh_token"].(string)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				resp, err := e.http.PostForm(e.base+"/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"},
					"client_id": {pubClient}, "refresh_token": {rt}, "scope": {graphScope}})
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if _, err := e.srv.MintAccessToken("contoso", "bob", pubClient, []string{"User.Read"}); err != nil {
					errs <- err
				}
				if i == 0 {
					if err := e.srv.RevokeUser("contoso", "bob"); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkRefreshGrant measures one refresh-token grant through the
// handler: parse, check, sign an access and an id token, store the new
// refresh token.
func BenchmarkRefreshGrant(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Handler()
	raw, err := e.srv.MintAccessToken("contoso", "alice", pubClient, []string{"User.Read"})
	if err != nil || raw == "" {
		b.Fatal(err)
	}
	// Get a refresh token through a device code.
	dcRec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/contoso/oauth2/v2.0/devicecode", strings.NewReader(url.Values{"client_id": {pubClient}, "scope": {graphScope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(dcRec, req)
	var dc deviceCodeResponse
	if err := jsonUnmarshal(dcRec.Body.Bytes(), &dc); err != nil {
		b.Fatal(err)
	}
	if err := e.srv.ApproveDeviceCode(dc.UserCode, "alice"); err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/contoso/oauth2/v2.0/token", strings.NewReader(url.Values{"grant_type": {"device_code"}, "client_id": {pubClient}, "device_code": {dc.DeviceCode}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	var tr tokenResponse
	if err := jsonUnmarshal(rec.Body.Bytes(), &tr); err != nil || tr.RefreshToken == "" {
		b.Fatalf("device code redeem: %v %s", err, rec.Body.String())
	}
	body := url.Values{"grant_type": {"refresh_token"}, "client_id": {pubClient}, "refresh_token": {tr.RefreshToken}, "scope": {graphScope}}.Encode()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/contoso/oauth2/v2.0/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(fmt.Sprint(rec.Code, rec.Body.String()))
		}
	}
}

// TestStateWrittenWithoutClose: the background writer stores a new
// refresh token soon after it is issued, so a crash loses little.
func TestStateWrittenWithoutClose(t *testing.T) {
	e := newEnv(t)
	e.signIn(t, "contoso", "alice", graphScope)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, err := loadState(e.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Refresh) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state file has %d refresh tokens after 10s, want 1", len(st.Refresh))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestErrorURIResolves(t *testing.T) {
	e := newEnv(t)
	status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {pubClient}})
	if status != 400 {
		t.Fatalf("status %d", status)
	}
	resp, page := e.get(t, body["error_uri"].(string))
	if resp.StatusCode != 200 || !strings.Contains(page, "AADSTS70003") {
		t.Errorf("error_uri %v = %d", body["error_uri"], resp.StatusCode)
	}
}

func TestIncrementalConsent(t *testing.T) {
	e := newEnv(t)
	signIn := func(scope string) string {
		q := e.authorize(t, "contoso", pkceParams(portal, portalCB, scope), "bob")
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "code": {q.Get("code")}, "redirect_uri": {portalCB}, "code_verifier": {verifier}})
		if status != 200 {
			t.Fatalf("sign-in for %q = %d %v", scope, status, body)
		}
		return body["refresh_token"].(string)
	}
	signIn("Files.Read offline_access")
	rt := signIn("Files.ReadWrite offline_access")
	// Both consents hold: an earlier and a later one.
	status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {portal},
		"client_secret": {directory.DemoServiceSecret}, "refresh_token": {rt}, "scope": {"Files.Read Files.ReadWrite"}})
	if status != 200 {
		t.Fatalf("refresh = %d %v", status, body)
	}
	if c := e.claims(t, body["access_token"].(string)); c["scp"] != "Files.Read Files.ReadWrite" {
		t.Errorf("scp = %v", c["scp"])
	}
	e.srv.mu.Lock()
	n := len(e.srv.st.Consents)
	e.srv.mu.Unlock()
	if n != 1 {
		t.Errorf("%d consent records for one user, client and resource, want 1", n)
	}
}

func TestCorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, _ := testKeys()
	d, err := directory.New(directory.DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{BaseURL: "https://localhost:9443", DataDir: dir}, d, keys); err == nil {
		t.Errorf("New with a corrupt state file succeeded")
	}
	if _, err := New(Config{BaseURL: "http://localhost:9443"}, d, keys); err == nil {
		t.Errorf("New with an http base URL succeeded")
	}
}
