package entra

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Contract (Microsoft identity platform, "OAuth 2.0 On-Behalf-Of flow";
// graph-contract.md, Entra ID): a confidential API trades the user's
// access token to it for a Graph token for the same user, with its own
// consent deciding the scopes. Both token versions work as assertions. A
// public client, a token for another audience, an app-only or expired
// assertion are refused.
func TestOnBehalfOf(t *testing.T) {
	e := newEnv(t)
	for _, api := range []struct{ id, uri, secret string }{
		{directory.DemoServiceAppID, directory.DemoServiceAppURI, directory.DemoServiceSecret},
		{directory.DemoServiceV1AppID, directory.DemoServiceV1AppURI, directory.DemoServiceV1Secret},
	} {
		user, err := e.srv.MintAccessToken(directory.DemoContosoID, "alice", directory.DemoClientID, []string{api.uri + "/" + directory.DemoServiceScope})
		if err != nil {
			t.Fatal(err)
		}
		obo := func(assertion, clientID, secret string) (int, map[string]any) {
			form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "client_id": {clientID},
				"assertion": {assertion}, "scope": {"https://graph.microsoft.com/.default"}, "requested_token_use": {"on_behalf_of"}}
			if secret != "" {
				form.Set("client_secret", secret)
			}
			return e.post(t, "/"+directory.DemoContosoID+"/oauth2/v2.0/token", form)
		}
		status, body := obo(user, api.id, api.secret)
		if status != 200 {
			t.Fatalf("%s: on-behalf-of = %d %v", api.uri, status, body)
		}
		if sc, _ := body["scope"].(string); !strings.Contains(sc, "https://graph.microsoft.com/.default") {
			t.Errorf("%s: response scope %q does not name the .default asked for (MSAL refuses declined scopes)", api.uri, sc)
		}
		c := e.claims(t, body["access_token"].(string))
		if c["aud"] != directory.GraphResource && c["aud"] != directory.GraphAppID {
			t.Errorf("%s: OBO token aud = %v, want Graph", api.uri, c["aud"])
		}
		if oid := e.dir.Tenant("contoso").User("alice").ID; c["oid"] != oid || !strings.Contains(c["scp"].(string), "Group.Read.All") {
			t.Errorf("%s: OBO token oid %v scp %v, want alice with the API's Graph consent", api.uri, c["oid"], c["scp"])
		}
		if c["azp"] != api.id && c["appid"] != api.id {
			t.Errorf("%s: OBO token names app %v/%v, want the API", api.uri, c["azp"], c["appid"])
		}
		for _, bad := range []struct {
			what, assertion, client, secret, code string
		}{
			{"wrong secret", user, api.id, "nope", "invalid_client"},
			{"public client", user, directory.DemoClientID, "", "invalid_client"},
			{"other audience", body["access_token"].(string), api.id, api.secret, "invalid_grant"},
			{"not a token", "abc.def.ghi", api.id, api.secret, "invalid_grant"},
		} {
			if status, b := obo(bad.assertion, bad.client, bad.secret); status == 200 || b["error"] != bad.code {
				t.Errorf("%s %s: %d %v, want %s", api.uri, bad.what, status, b["error"], bad.code)
			}
		}
		e.clock.Advance(3 * time.Hour)
		if status, b := obo(user, api.id, api.secret); status == 200 || b["error"] != "invalid_grant" {
			t.Errorf("%s expired assertion: %d %v, want invalid_grant", api.uri, status, b["error"])
		}
		e.clock.Advance(-3 * time.Hour)
	}
}
