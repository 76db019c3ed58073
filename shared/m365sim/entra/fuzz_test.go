package entra

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// checkEntraAnswer fails unless rec is a success or an Entra-shaped error.
func checkEntraAnswer(t *testing.T, rec *httptest.ResponseRecorder, okStatus ...int) {
	t.Helper()
	for _, s := range okStatus {
		if rec.Code == s {
			return
		}
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
	}
	if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d for %+v", rec.Code, body)
	}
	if body.Error == "" || !strings.HasPrefix(body.ErrorDescription, "AADSTS") || len(body.ErrorCodes) != 1 || body.TraceID == "" {
		t.Fatalf("not an Entra error: %+v", body)
	}
}

// FuzzTokenForm posts arbitrary forms to the token and device code
// endpoints: every answer is a token or an Entra-shaped error, never a panic.
func FuzzTokenForm(f *testing.F) {
	e := newEnv(f)
	h := e.srv.Handler()
	f.Add("grant_type=refresh_token&client_id="+pubClient+"&refresh_token=x&scope=User.Read", "contoso")
	f.Add("grant_type=authorization_code&client_id="+pubClient+"&code=abc&redirect_uri=http%3A%2F%2Flocalhost%3A1&code_verifier=v", "common")
	f.Add("grant_type=device_code&client_id="+pubClient+"&device_code=DAQAB", "organizations")
	f.Add("client_id="+pubClient+"&scope=Files.ReadWrite.All+offline_access", "contoso.com")
	f.Add("grant_type=%zz", "contoso")
	f.Fuzz(func(t *testing.T, body, tenant string) {
		if tenant == "" || tenant == "." || tenant == ".." || strings.ContainsAny(tenant, "/?#%") { // the mux cleans or splits these
			tenant = "contoso"
		}
		for _, ep := range []string{"token", "devicecode"} {
			req := httptest.NewRequest("POST", "/"+url.PathEscape(tenant)+"/oauth2/v2.0/"+ep, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code == http.StatusNotFound { // the mux did not route an odd tenant segment
				continue
			}
			checkEntraAnswer(t, rec, http.StatusOK)
		}
	})
}

// FuzzAuthorizeQuery sends arbitrary authorize queries: the answer is the
// sign-in page, a redirect or an error page, never a panic or a 5xx.
func FuzzAuthorizeQuery(f *testing.F) {
	e := newEnv(f)
	h := e.srv.Handler()
	f.Add("client_id=" + pubClient + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A5&scope=User.Read&state=s")
	f.Add("client_id=" + pubClient + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A5&scope=User.Read&response_mode=form_post&prompt=none")
	f.Add("client_id=x&redirect_uri=%zz")
	f.Fuzz(func(t *testing.T, query string) {
		for _, method := range []string{"GET", "POST"} {
			var req *http.Request
			if method == "GET" {
				req = httptest.NewRequest("GET", "/contoso/oauth2/v2.0/authorize", nil)
				req.URL.RawQuery = query
			} else {
				req = httptest.NewRequest("POST", "/contoso/oauth2/v2.0/authorize", strings.NewReader(query+"&signin=1&pick=alice"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusFound, http.StatusBadRequest:
			default:
				t.Fatalf("%s authorize?%s = %d", method, query, rec.Code)
			}
			if rec.Code == http.StatusFound {
				loc, err := url.Parse(rec.Header().Get("Location"))
				if err != nil || !(loc.Scheme == "http" && strings.EqualFold(loc.Hostname(), "localhost") ||
					strings.HasPrefix(loc.String(), portalCB)) {
					t.Fatalf("redirected to an unregistered URI: %s", rec.Header().Get("Location"))
				}
			}
		}
	})
}
