package authn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mapdrive/mapdrive/shared/logredact"
)

// TestGraphGroupsOnBehalfOf runs the overage path against a fake token
// endpoint and Graph: the user's token is exchanged (jwt-bearer grant) and
// /me/memberOf is paged through. (m365sim has no on-behalf-of grant yet.)
func TestGraphGroupsOnBehalfOf(t *testing.T) {
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("POST /"+tid+"/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.Form.Get("assertion") != "user-token" ||
			r.Form.Get("requested_token_use") != "on_behalf_of" || r.Form.Get("client_secret") != "s3cret" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"access_token": "graph-token"})
	})
	mux.HandleFunc("GET /v1.0/me/memberOf", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer graph-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("page") == "" {
			json.NewEncoder(w).Encode(map[string]any{
				"value":           []map[string]string{{"@odata.type": "#microsoft.graph.group", "id": "AAAAAAAA-0000-4000-8000-000000000001"}, {"@odata.type": "#microsoft.graph.directoryRole", "id": "role"}},
				"@odata.nextLink": srv.URL + "/v1.0/me/memberOf?page=2",
			})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"value": []map[string]string{{"@odata.type": "#microsoft.graph.group", "id": "aaaaaaaa-0000-4000-8000-000000000002"}}})
	})
	srv = httptest.NewTLSServer(mux)
	defer srv.Close()
	g := &GraphGroups{AuthorityHost: srv.URL, GraphURL: srv.URL + "/v1.0", ClientID: "svc", ClientSecret: "s3cret", HTTPClient: srv.Client()}
	got, err := g.MemberOf(t.Context(), &Principal{TenantID: tid, Token: logredact.Secret("user-token")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "aaaaaaaa-0000-4000-8000-000000000001" || got[1] != "aaaaaaaa-0000-4000-8000-000000000002" {
		t.Errorf("MemberOf = %v", got)
	}
	g.ClientSecret = "wrong"
	if _, err := g.MemberOf(t.Context(), &Principal{TenantID: tid, Token: logredact.Secret("user-token")}); err == nil {
		t.Error("MemberOf with a refused exchange succeeded")
	}
}
