package entra

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func (e *env) deviceCode(t *testing.T, tenant, client, scope string) map[string]any {
	t.Helper()
	status, body := e.post(t, "/"+tenant+"/oauth2/v2.0/devicecode", url.Values{"client_id": {client}, "scope": {scope}})
	if status != 200 {
		t.Fatalf("devicecode = %d %v", status, body)
	}
	return body
}

func (e *env) pollDevice(t *testing.T, tenant string, dc map[string]any) (int, map[string]any) {
	t.Helper()
	return e.post(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {grantDeviceCode}, "client_id": {pubClient},
		"device_code": {dc["device_code"].(string)}, "client_info": {"1"}})
}

func TestDeviceCodeFlow(t *testing.T) {
	e := newEnv(t)
	dc := e.deviceCode(t, "contoso", pubClient, graphScope)
	uc, _ := dc["user_code"].(string)
	if len(uc) != 9 || dc["verification_uri"] != e.base+"/devicelogin" || dc["expires_in"] != float64(900) || dc["interval"] != float64(5) ||
		!strings.Contains(dc["message"].(string), uc) {
		t.Fatalf("devicecode response = %v", dc)
	}
	status, body := e.pollDevice(t, "contoso", dc)
	wantEntraError(t, status, body, 400, "authorization_pending", 70016)
	status, body = e.pollDevice(t, "contoso", dc)
	wantEntraError(t, status, body, 400, "slow_down", 70016)
	e.clock.Advance(5 * time.Second)
	status, body = e.pollDevice(t, "contoso", dc)
	wantEntraError(t, status, body, 400, "authorization_pending", 70016)

	if err := e.srv.ApproveDeviceCode(strings.ToLower(uc[:4])+"-"+uc[4:], "alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	// Approved: the token comes at once, even if polled fast.
	status, body = e.pollDevice(t, "contoso", dc)
	if status != 200 {
		t.Fatalf("poll after approval = %d %v", status, body)
	}
	c := e.claims(t, body["access_token"].(string))
	if c["oid"] != e.dir.Tenant("contoso").User("alice").ID || c["aud"] != directory.GraphAppID {
		t.Errorf("oid/aud = %v %v", c["oid"], c["aud"])
	}
	status, body = e.pollDevice(t, "contoso", dc)
	wantEntraError(t, status, body, 400, "invalid_grant", 54005)
	if err := e.srv.ApproveDeviceCode(uc, "alice"); !errors.Is(err, ErrUnknownUserCode) {
		t.Errorf("approve a spent code = %v, want ErrUnknownUserCode", err)
	}

	t.Run("expired", func(t *testing.T) {
		dc := e.deviceCode(t, "contoso", pubClient, graphScope)
		e.clock.Advance(16 * time.Minute)
		status, body := e.pollDevice(t, "contoso", dc)
		wantEntraError(t, status, body, 400, "expired_token", 70019)
		if err := e.srv.ApproveDeviceCode(dc["user_code"].(string), "alice"); !errors.Is(err, ErrUnknownUserCode) {
			t.Errorf("approve expired = %v", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		dc := e.deviceCode(t, "contoso", pubClient, graphScope)
		if err := e.srv.ApproveDeviceCode(dc["user_code"].(string), "frank@fabrikam.com"); err == nil {
			t.Errorf("a fabrikam user approved a contoso device code")
		}
	})
	t.Run("consent blocked", func(t *testing.T) {
		dc := e.deviceCode(t, "northwind", pubClient, graphScope)
		err := e.srv.ApproveDeviceCode(dc["user_code"].(string), "nina@northwind.com")
		if err == nil || !strings.Contains(err.Error(), "AADSTS90094") {
			t.Errorf("approve in northwind = %v, want AADSTS90094", err)
		}
		status, body := e.pollDevice(t, "northwind", dc)
		wantEntraError(t, status, body, 400, "invalid_grant", 65001)
	})
	t.Run("other client polls", func(t *testing.T) {
		dc := e.deviceCode(t, "contoso", pubClient, graphScope)
		status, body := e.post(t, "/contoso/oauth2/v2.0/token", url.Values{"grant_type": {grantDeviceCode}, "client_id": {portal},
			"client_secret": {directory.DemoServiceSecret}, "device_code": {dc["device_code"].(string)}})
		wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	})
	t.Run("common authority", func(t *testing.T) {
		dc := e.deviceCode(t, "common", pubClient, graphScope)
		if err := e.srv.ApproveDeviceCode(dc["user_code"].(string), "frank@fabrikam.com"); err != nil {
			t.Fatal(err)
		}
		status, body := e.pollDevice(t, "common", dc)
		if status != 200 {
			t.Fatalf("= %d %v", status, body)
		}
		if c := e.claims(t, body["access_token"].(string)); c["tid"] != directory.DemoFabrikamID {
			t.Errorf("tid = %v", c["tid"])
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			tenant string
			form   url.Values
			err    string
			code   int
		}{
			{"unknown client", "contoso", url.Values{"client_id": {"11111111-2222-3333-4444-555555555555"}, "scope": {"User.Read"}}, "unauthorized_client", 700016},
			{"missing scope", "contoso", url.Values{"client_id": {pubClient}}, "invalid_request", 900144},
			{"bad scope", "contoso", url.Values{"client_id": {pubClient}, "scope": {"Files.Fly"}}, "invalid_scope", 70011},
			{"unknown tenant", "nowhere", url.Values{"client_id": {pubClient}, "scope": {"User.Read"}}, "invalid_request", 90002},
		} {
			status, body := e.post(t, "/"+tt.tenant+"/oauth2/v2.0/devicecode", tt.form)
			t.Run(tt.name, func(t *testing.T) { wantEntraError(t, status, body, 400, tt.err, tt.code) })
		}
	})
}

func TestDeviceLoginPage(t *testing.T) {
	e := newEnv(t)
	dc := e.deviceCode(t, "contoso", pubClient, graphScope)
	page := e.base + "/devicelogin"
	resp, body := e.get(t, page)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="otc"`) {
		t.Fatalf("GET /devicelogin = %d", resp.StatusCode)
	}
	// A wrong code stays on the page with Entra's message.
	resp = e.submitRaw(t, page, url.Values{"otc": {"WRONGCODE"}})
	if b := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(b, "wrong user code") {
		t.Errorf("wrong code: %d", resp.StatusCode)
	}
	resp = e.submitRaw(t, page, url.Values{"otc": {dc["user_code"].(string)}})
	b := readBody(t, resp)
	if !strings.Contains(b, "Bob Berg") || !strings.Contains(b, "Mapdrive") {
		t.Fatalf("pick page lacks users or app:\n%s", b)
	}
	resp = e.submit(t, page, firstForm(t, b), url.Values{"pick": {"bob@contoso.com"}})
	if b := readBody(t, resp); !strings.Contains(b, "You have signed in") {
		t.Fatalf("approve page:\n%s", b)
	}
	status, tok := e.pollDevice(t, "contoso", dc)
	if status != 200 {
		t.Fatalf("poll = %d %v", status, tok)
	}
	if c := e.claims(t, tok["access_token"].(string)); c["upn"] != "bob@contoso.com" {
		t.Errorf("upn = %v", c["upn"])
	}

	t.Run("decline", func(t *testing.T) {
		dc := e.deviceCode(t, "contoso", pubClient, graphScope)
		resp := e.submitRaw(t, page, url.Values{"otc": {dc["user_code"].(string)}, "action": {"decline"}})
		readBody(t, resp)
		status, body := e.pollDevice(t, "contoso", dc)
		wantEntraError(t, status, body, 400, "authorization_declined", 70000)
	})
}

func (e *env) submitRaw(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := e.http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
