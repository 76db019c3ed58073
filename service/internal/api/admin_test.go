package api

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TestAdminLifecycle drives every admin write path and reads the raw
// database after each, looking for the connection data in plain text.
func TestAdminLifecycle(t *testing.T) {
	eachDB(t, func(t *testing.T, db testenv.DB) {
		e := newEnv(t, db)
		adm := e.token("contoso", "admin")
		base := "/v1/tenants/" + e.contoso.ID
		plain := []string{"sharepoint.com/sites/Finance", "Quarterly Library", "Closing Pack 2026", "b!opaque-drive-id", e.financeGroup, e.marketingGroup,
			"Contoso Ltd", "contoso.onmicrosoft.com", "Finance Docs"}
		scan := func(step string) {
			t.Helper()
			testenv.AssertAbsent(t, db.Name+" after "+step, db.Raw(t), plain...)
		}
		scan("tenant registration")
		m := e.financeMapping()
		m.DisplayName = "Finance Docs"
		m.Target.LibraryName = "Quarterly Library"
		m.Target.FolderPath = `Closing Pack 2026\Board/` // normalised to "/Closing Pack 2026/Board"
		var a apitype.AdminMapping
		r := e.do("POST", base+"/mappings", adm, m)
		if r.status != http.StatusCreated {
			t.Fatalf("create = %d %s", r.status, r.body)
		}
		e.decode(r, &a)
		scan("create")
		b := apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Drive", DriveLetter: "G", Target: apitype.Target{Kind: apitype.TargetDriveID, DriveID: "b!opaque-drive-id"}},
			Groups: []string{e.marketingGroup}}
		var bm apitype.AdminMapping
		e.decode(e.do("POST", base+"/mappings", adm, b), &bm)
		if r := e.do("POST", base+"/mappings", adm, b); r.status != http.StatusConflict || r.problem.Code != apitype.ServiceCodeConflict {
			t.Errorf("duplicate letter = %d %+v", r.status, r.problem)
		}
		a.ReadOnly, a.OfflinePin, a.CacheLimitBytes = true, apitype.PinAll, 5<<30
		a.Groups = append(a.Groups, e.marketingGroup)
		if r := e.do("PUT", base+"/mappings/"+a.ID, adm, a); r.status != http.StatusOK {
			t.Fatalf("update = %d %s", r.status, r.body)
		}
		scan("update")
		var got apitype.AdminMapping
		e.decode(e.do("GET", base+"/mappings/"+a.ID, adm, nil), &got)
		if !got.ReadOnly || got.OfflinePin != apitype.PinAll || len(got.Groups) != 2 || got.Target.LibraryName != "Quarterly Library" ||
			got.Target.FolderPath != "/Closing Pack 2026/Board" {
			t.Errorf("after update = %+v", got)
		}
		bad := got
		bad.Target.FolderPath = "/Closing Pack 2026/../Other"
		if r := e.do("PUT", base+"/mappings/"+a.ID, adm, bad); r.status != http.StatusBadRequest || !strings.Contains(r.problem.Detail, "folder path") {
			t.Errorf("update with a relative folder path = %d %+v", r.status, r.problem)
		}
		var list apitype.AdminMappingList
		e.decode(e.do("PUT", base+"/mapping-order", adm, apitype.ReorderRequest{IDs: []string{bm.ID, a.ID}}), &list)
		if len(list.Mappings) != 2 || list.Mappings[0].ID != bm.ID || list.Mappings[0].Position != 0 || list.Mappings[1].Position != 1 {
			t.Errorf("after reorder = %+v", list.Mappings)
		}
		scan("reorder")
		pol := apitype.Policies{DeltaPollSeconds: 30, MinClientVersion: "0.1.0", DefaultCacheLimitBytes: 1 << 30, OfficeCoauthoring: false,
			UploadBytesPerSecond: 20_000_000, DownloadBytesPerSecond: 5_000_000, RefreshSeconds: 600, StartJitterSeconds: 300,
			LinkScope: apitype.LinkScopeNone}
		if r := e.do("PUT", base+"/policies", adm, pol); r.status != http.StatusOK {
			t.Fatalf("policies = %d %s", r.status, r.body)
		}
		var gotPol apitype.Policies
		e.decode(e.do("GET", base+"/policies", adm, nil), &gotPol)
		if gotPol != pol {
			t.Errorf("policies = %+v, want %+v", gotPol, pol)
		}
		if r := e.do("PUT", base+"/policies", adm, apitype.Policies{DeltaPollSeconds: 1}); r.status != http.StatusBadRequest {
			t.Errorf("bad policies = %d", r.status)
		}
		if r := e.do("PUT", base+"/policies", adm, apitype.Policies{DeltaPollSeconds: 30, StartJitterSeconds: 7200}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "start jitter") {
			t.Errorf("policies with a 2 h start jitter = %d %s, want 400 naming the jitter", r.status, r.body)
		}
		if r := e.do("PUT", base+"/policies", adm, apitype.Policies{DeltaPollSeconds: 30, LinkScope: "everyone"}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "link scope") {
			t.Errorf("policies with link scope everyone = %d %s, want 400 naming the link scope", r.status, r.body)
		}
		if r := e.do("DELETE", base+"/mappings/"+bm.ID, adm, nil); r.status != http.StatusNoContent {
			t.Errorf("delete = %d", r.status)
		}
		if r := e.do("GET", base+"/mappings/"+bm.ID, adm, nil); r.status != http.StatusNotFound {
			t.Errorf("deleted mapping = %d", r.status)
		}
		scan("delete")
		var audit apitype.AuditList
		e.decode(e.do("GET", base+"/audit", adm, nil), &audit)
		var actions []string
		for _, en := range audit.Entries {
			actions = append(actions, en.Action)
			if !strings.HasPrefix(en.Actor, "actor-") || strings.Contains(en.Actor, "admin") {
				t.Errorf("actor %q is not a pseudonym", en.Actor)
			}
		}
		sort.Strings(actions)
		want := "mapping.create mapping.create mapping.delete mapping.reorder mapping.update policies.update"
		if strings.Join(actions, " ") != want {
			t.Errorf("audit actions = %v, want %s", actions, want)
		}
		e.decode(e.do("GET", base+"/audit?action=mapping.delete&limit=5", adm, nil), &audit)
		if len(audit.Entries) != 1 || audit.Entries[0].Target != bm.ID {
			t.Errorf("filtered audit = %+v", audit.Entries)
		}
		if err := e.st.RecordSeatUsage(t.Context()); err != nil {
			t.Fatal(err)
		}
		var usage apitype.SeatUsageList
		e.decode(e.do("GET", base+"/seat-usage?days=30", adm, nil), &usage)
		if usage.Seats != 25 || len(usage.Days) != 1 {
			t.Errorf("seat usage = %+v", usage)
		}
		if r := e.do("GET", base+"/seat-usage?days=0", adm, nil); r.status != http.StatusBadRequest {
			t.Errorf("seat usage with days=0 = %d", r.status)
		}
		// GDPR export, then erasure.
		e.do("POST", "/v1/validate", e.token("contoso", "alice"), apitype.ValidateRequest{ClientVersion: "0.1.0"})
		r = e.do("GET", base+"/export", adm, nil)
		var exp apitype.TenantExport
		e.decode(r, &exp)
		if exp.Tenant.DisplayName != "Contoso Ltd" || len(exp.Mappings) != 1 || len(exp.Seats) != 1 || len(exp.Audit) < 6 ||
			!strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("export = %+v", exp)
		}
		if strings.Contains(string(r.body), "alice") {
			t.Error("export holds a user name")
		}
		if r := e.do("DELETE", base, adm, nil); r.status != http.StatusNoContent {
			t.Fatalf("erase = %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/validate", e.token("contoso", "alice"), nil); r.problem.Code != apitype.ServiceCodeTenantNotRegistered {
			t.Errorf("validate after erasure = %d %+v", r.status, r.problem)
		}
		if r := e.do("GET", base, adm, nil); r.status != http.StatusForbidden {
			t.Errorf("admin after erasure = %d", r.status)
		}
		scan("erasure")
		raw := db.Raw(t)
		if strings.Contains(string(raw), e.contoso.ID) {
			t.Errorf("%s still holds rows of the erased tenant", db.Name)
		}
		testenv.MustContain(t, db.Name, raw, e.fabrikam.ID)
	})
}

// TestRequestLimits covers malformed JSON, oversized bodies and rate limits.
func TestRequestLimits(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), func(c *Config) { c.RateLimit, c.RateBurst, c.MaxBody = 0.001, 8, 1024 })
	adm := e.token("contoso", "admin")
	path := "/v1/tenants/" + e.contoso.ID + "/mappings"
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"syntax", `{"displayName":`, http.StatusBadRequest},
		{"not an object", `[1,2]`, http.StatusBadRequest},
		{"wrong type", `{"displayName":5}`, http.StatusBadRequest},
		{"unknown field", `{"displayName":"x","evil":1}`, http.StatusBadRequest},
		{"trailing data", `{"displayName":"x"} {}`, http.StatusBadRequest},
		{"too large", `{"displayName":"` + strings.Repeat("x", 2000) + `"}`, http.StatusRequestEntityTooLarge},
		{"invalid mapping", `{"displayName":"x","target":{"kind":"ftp"}}`, http.StatusBadRequest},
	} {
		r := e.do("POST", path, adm, tc.body)
		if r.status != tc.status || r.problem.Status != tc.status || r.problem.Code == "" {
			t.Errorf("%s: %d %+v, want %d", tc.name, r.status, r.problem, tc.status)
		}
	}
	// Seven requests above and this one spend the burst of 8: the next is
	// limited, for this tenant only.
	if r := e.do("GET", path, adm, nil); r.status != http.StatusOK {
		t.Fatalf("8th request = %d", r.status)
	}
	r := e.do("GET", path, adm, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.problem.Code != apitype.ServiceCodeRateLimited {
		t.Errorf("over the rate = %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if r := e.do("GET", "/v1/tenants/"+e.fabrikam.ID+"/mappings", e.token("fabrikam", "fiona"), nil); r.status != http.StatusOK {
		t.Errorf("other tenant limited too: %d", r.status)
	}
	if r := e.do("GET", "/nope", "", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown route = %d", r.status)
	}
}

// TestAuthFailureLimit floods the API with bogus tokens from one address:
// past the burst it answers 429 without checking tokens.
func TestAuthFailureLimit(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), func(c *Config) { c.AuthFailureRate, c.AuthFailureBurst = 0.001, 5 })
	for i := range 5 {
		if r := e.do("GET", "/v1/mappings", "bogus.token.x", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("refusal %d = %d", i, r.status)
		}
	}
	r := e.do("GET", "/v1/mappings", e.token("contoso", "alice"), nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("after 5 refusals = %d, want 429 with Retry-After", r.status)
	}
}

// TestOpenAPIMatchesRoutes checks the served document describes exactly
// the routes the server has.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	r := e.do("GET", apitype.RouteServiceOpenAPI, "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi document: %v", err)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range e.api.Routes() {
		served[rt[0]+" "+rt[1]] = true
	}
	for k := range served {
		if !inDoc[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range inDoc {
		if !served[k] {
			t.Errorf("openapi.json describes %s, which is not served", k)
		}
	}
	// Every field of the wire types the document describes is in its
	// schema, so a new policy cannot be added without documenting it.
	var comp struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &comp); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]reflect.Type{"Policies": reflect.TypeFor[apitype.Policies]()} {
		for f := range typ.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if _, ok := comp.Components.Schemas[name].Properties[tag]; !ok {
				t.Errorf("openapi.json schema %s lacks %s", name, tag)
			}
		}
	}
	disk, err := os.ReadFile("openapi.json")
	if err != nil || string(disk) != string(r.body) {
		t.Error("served document differs from openapi.json")
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("GET", p, "", nil); r.status != http.StatusOK {
			t.Errorf("%s = %d", p, r.status)
		}
	}
	e.st.Close()
	if r := e.do("GET", "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed = %d", r.status)
	}
}
