package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
)

// TestReplicasShareState runs two API replicas on one database: a mapping
// created on one reaches users on the other, both sign leases with the
// same key, and seats are counted across both.
func TestReplicasShareState(t *testing.T) {
	eachDB(t, func(t *testing.T, db testenv.DB) {
		e := newEnv(t, db)
		b := e.replica()
		call := func(base, method, path, tok string) (int, []byte) {
			req, _ := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(""))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := b.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, body
		}
		if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", e.token("contoso", "admin"), e.financeMapping()); r.status != http.StatusCreated {
			t.Fatalf("create on replica A = %d", r.status)
		}
		code, body := call(b.URL, "POST", "/v1/validate", e.token("contoso", "alice"))
		var vr apitype.ValidateResponse
		json.Unmarshal(body, &vr)
		if code != http.StatusOK || len(vr.Mappings) != 1 || vr.Mappings[0].DisplayName != "Finance" {
			t.Fatalf("validate on replica B = %d %s", code, body)
		}
		var ka, kb apitype.LeaseKey
		e.decode(e.do("GET", "/v1/lease-key", "", nil), &ka)
		_, body = call(b.URL, "GET", "/v1/lease-key", "")
		json.Unmarshal(body, &kb)
		if ka != kb || ka.PublicKey == "" {
			t.Fatalf("replicas publish different lease keys: %+v %+v", ka, kb)
		}
		pub, _ := lease.ParsePublicKey(ka.PublicKey)
		if _, err := lease.Verify(pub, vr.Lease, time.Now()); err != nil {
			t.Errorf("replica B's lease does not verify with replica A's key: %v", err)
		}
		// bob takes a seat on replica A; the count covers both replicas.
		if r := e.do("POST", "/v1/validate", e.token("contoso", "bob"), nil); r.status != http.StatusOK {
			t.Fatalf("bob on A = %d", r.status)
		}
		var ten apitype.Tenant
		e.decode(e.do("GET", "/v1/tenants/"+e.contoso.ID, e.token("contoso", "admin"), nil), &ten)
		if ten.SeatsUsed != 2 {
			t.Errorf("seats used across replicas = %d, want 2", ten.SeatsUsed)
		}
	})
}
