package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

func eachDB(t *testing.T, f func(t *testing.T, db testenv.DB)) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) { f(t, db) })
	}
}

// eachVersion runs f with v1.0 and with v2.0 access tokens (Entra issues
// either, as the API's registration asks), each on fresh databases.
func eachVersion(t *testing.T, f func(t *testing.T, e *env)) {
	for _, ver := range []string{"1.0", "2.0"} {
		t.Run("v"+ver, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db testenv.DB) {
				e := newEnv(t, db)
				e.ver = ver
				f(t, e)
			})
		})
	}
}

// TestValidateFlow runs licence validations end to end with tokens the
// simulator issues, then scans the database, the logs and the metrics for
// the users' UPNs.
func TestValidateFlow(t *testing.T) {
	eachVersion(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		db := e.db
		admin := e.token("contoso", "admin")
		fin := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", admin, e.financeMapping())
		if fin.status != http.StatusCreated {
			t.Fatalf("create Finance = %d %s", fin.status, fin.body)
		}
		var finM apitype.AdminMapping
		e.decode(fin, &finM)
		mkt := e.financeMapping()
		mkt.DisplayName, mkt.DriveLetter, mkt.MountName, mkt.Groups = "Marketing", "M", "Marketing", []string{e.marketingGroup}
		mkt.Target.SiteURL = e.contoso.SiteURL(e.contoso.Site("Marketing"))
		if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", admin, mkt); r.status != http.StatusCreated {
			t.Fatalf("create Marketing = %d %s", r.status, r.body)
		}
		home := apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Home", DriveLetter: "H", Target: apitype.Target{Kind: apitype.TargetOneDrive}}, Everyone: true}
		if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", admin, home); r.status != http.StatusCreated {
			t.Fatalf("create Home = %d %s", r.status, r.body)
		}

		var key apitype.LeaseKey
		e.decode(e.do("GET", "/v1/lease-key", "", nil), &key)
		pub, err := lease.ParsePublicKey(key.PublicKey)
		if err != nil || key.Alg != "Ed25519" || key.KeyID != lease.KeyID(pub) {
			t.Fatalf("lease key = %+v, %v", key, err)
		}

		names := func(ms []apitype.Mapping) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.DisplayName)
			}
			return out
		}
		for _, tc := range []struct {
			user string
			want []string
		}{
			{"alice", []string{"Finance", "Marketing", "Home"}},
			{"bob", []string{"Marketing", "Home"}},
		} {
			r := e.do("POST", "/v1/validate", e.token("contoso", tc.user), apitype.ValidateRequest{ClientVersion: "0.1.0", OS: "linux"})
			if r.status != http.StatusOK {
				t.Fatalf("validate %s = %d %s", tc.user, r.status, r.body)
			}
			var vr apitype.ValidateResponse
			e.decode(r, &vr)
			if got := names(vr.Mappings); !slices.Equal(got, tc.want) {
				t.Errorf("%s's mappings = %v, want %v", tc.user, got, tc.want)
			}
			l, err := lease.Verify(pub, vr.Lease, time.Now())
			if err != nil {
				t.Fatalf("lease of %s: %v", tc.user, err)
			}
			// The seat key must not carry the UPN. Not the bare name: the key
			// is base64 of an HMAC, and "bob" turns up in it about once in
			// 6,000 runs (it did in CI).
			if l.TenantID != e.contoso.ID || l.MappingsDigest != apitype.MappingsDigest(vr.Mappings) || vr.MappingsDigest != l.MappingsDigest ||
				l.ExpiresAt.Sub(l.IssuedAt) != lease.DefaultTTL || strings.Contains(l.SeatKey, tc.user+"@contoso.com") {
				t.Errorf("lease = %+v", l)
			}
			var ml apitype.MappingList
			e.decode(e.do("GET", "/v1/mappings", e.token("contoso", tc.user), nil), &ml)
			if ml.MappingsDigest != vr.MappingsDigest {
				t.Errorf("GET /v1/mappings digest differs from validate's")
			}
		}
		// Finance mapping as alice receives it.
		var vr apitype.ValidateResponse
		e.decode(e.do("POST", "/v1/validate", e.token("contoso", "alice"), nil), &vr)
		if m := vr.Mappings[0]; m.ID != finM.ID || m.Target.LibraryName != "Documents" || m.Target.SiteURL != "https://contoso.sharepoint.com/sites/Finance" || m.DriveLetter != "F" {
			t.Errorf("Finance mapping = %+v", m)
		}

		var ten apitype.Tenant
		e.decode(e.do("GET", "/v1/tenants/"+e.contoso.ID, admin, nil), &ten)
		if ten.SeatsUsed != 2 || ten.Seats != 25 {
			t.Errorf("seats = %d of %d, want 2 of 25", ten.SeatsUsed, ten.Seats)
		}

		// Refusals a user can meet.
		refuse := func(name, tok string, status int, code string) {
			t.Helper()
			r := e.do("POST", "/v1/validate", tok, nil)
			if r.status != status || r.problem.Code != code || r.problem.Detail == "" {
				t.Errorf("%s: validate = %d %+v, want %d %s", name, r.status, r.problem, status, code)
			}
		}
		put := func(seats int, expires time.Time, domains []string) {
			t.Helper()
			if err := e.st.PutTenant(ctx, store.Tenant{ID: e.contoso.ID, DisplayName: e.contoso.DisplayName, Domains: domains, Seats: seats, LicenceExpires: expires}); err != nil {
				t.Fatal(err)
			}
		}
		put(2, time.Now().AddDate(1, 0, 0), e.contoso.Domains)
		refuse("over seat", e.token("contoso", "admin"), http.StatusForbidden, apitype.ServiceCodeSeatsExhausted)
		if r := e.do("POST", "/v1/validate", e.token("contoso", "alice"), nil); r.status != http.StatusOK {
			t.Errorf("existing seat refused when full: %d", r.status)
		}
		put(25, time.Now().Add(-time.Hour), e.contoso.Domains)
		refuse("expired licence", e.token("contoso", "alice"), http.StatusForbidden, apitype.ServiceCodeLicenceExpired)
		put(25, time.Now().AddDate(1, 0, 0), []string{"contoso.onmicrosoft.com"})
		refuse("unverified domain", e.token("contoso", "alice"), http.StatusForbidden, apitype.ServiceCodeDomainNotVerified)
		put(25, time.Now().AddDate(1, 0, 0), e.contoso.Domains)
		refuse("no upn", e.crafted(e.contoso, "alice", func(c jwt.MapClaims) { delete(c, "upn"); delete(c, "preferred_username") }),
			http.StatusForbidden, apitype.ServiceCodeDomainNotVerified)
		unreg := e.sim.Directory().Tenant("northwind")
		refuse("unregistered tenant", e.crafted(unreg, "nina", nil), http.StatusForbidden, apitype.ServiceCodeTenantNotRegistered)
		refuse("expired token", e.crafted(e.contoso, "alice", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
			http.StatusUnauthorized, apitype.ServiceCodeUnauthenticated)
		if err := e.st.SetPolicies(ctx, e.contoso.ID, apitype.Policies{DeltaPollSeconds: 60, MinClientVersion: "1.2.0"}); err != nil {
			t.Fatal(err)
		}
		if r := e.do("POST", "/v1/validate", e.token("contoso", "alice"), apitype.ValidateRequest{ClientVersion: "1.1.9"}); r.problem.Code != apitype.ServiceCodeClientTooOld {
			t.Errorf("old client = %d %+v", r.status, r.problem)
		}
		if r := e.do("POST", "/v1/validate", e.token("contoso", "alice"), apitype.ValidateRequest{ClientVersion: "1.10.0"}); r.status != http.StatusOK {
			t.Errorf("new client = %d %s", r.status, r.body)
		}
		// Leaving the version out must not bypass the minimum (#15 item 11).
		for _, body := range []any{nil, apitype.ValidateRequest{OS: "linux"}} {
			if r := e.do("POST", "/v1/validate", e.token("contoso", "alice"), body); r.problem.Code != apitype.ServiceCodeClientTooOld {
				t.Errorf("client without a version (%v) = %d %+v", body, r.status, r.problem)
			}
		}

		// The UPNs must be nowhere.
		upns := []string{"alice@contoso.com", "bob@contoso.com", "admin@contoso.com", "nina@northwind.com", "@contoso.com"}
		testenv.AssertAbsent(t, db.Name+" database", db.Raw(t), upns...)
		testenv.AssertAbsent(t, "logs", e.logs.Bytes(), upns...)
		testenv.AssertAbsent(t, "logs before the redactor", e.rawLogs.Bytes(), upns...)
		testenv.MustContain(t, "logs before the redactor", e.rawLogs.Bytes(), `"route":"POST /v1/validate"`)
		testenv.AssertAbsent(t, "metrics", e.metrics(), upns...)
		testenv.MustContain(t, "metrics", e.metrics(), `mapdrive_validations_total{result="seatsExhausted"} 1`)
		testenv.MustContain(t, "logs", e.logs.Bytes(), `"route":"POST /v1/validate"`)
	})
}

// TestRefusalMatrix tries every authenticated route with every kind of
// bad caller and checks each is refused with the right status.
func TestRefusalMatrix(t *testing.T) {
	eachVersion(t, func(t *testing.T, e *env) {
		adminTok := e.token("contoso", "admin")
		fabAdmin := e.token("fabrikam", "fiona")
		var own, foreign apitype.AdminMapping
		e.decode(e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", adminTok, e.financeMapping()), &own)
		e.decode(e.do("POST", "/v1/tenants/"+e.fabrikam.ID+"/mappings", fabAdmin, apitype.AdminMapping{Mapping: apitype.Mapping{DisplayName: "Sales",
			Target: apitype.Target{Kind: apitype.TargetOneDrive}}, Everyone: true}), &foreign)
		if own.ID == "" || foreign.ID == "" {
			t.Fatal("fixture mappings not created")
		}
		unknown, err := token.NewEphemeral()
		if err != nil {
			t.Fatal(err)
		}
		good := e.crafted(e.contoso, "alice", nil)
		parts := strings.Split(good, ".")
		hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": e.sim.Keys().KID()})
		algNone := b64url(hdr) + "." + parts[1] + "."
		unknownKey := func() string {
			c := jwt.MapClaims{}
			p, _, _ := jwt.NewParser().ParseUnverified(good, c)
			s, err := unknown.Sign(p.Claims.(jwt.MapClaims))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}()
		type caller struct {
			name string
			tok  string
		}
		unauth := []caller{
			{"no token", ""},
			{"expired", e.crafted(e.contoso, "admin", func(c jwt.MapClaims) {
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				c["roles"] = []string{"Mapdrive.Admin"}
			})},
			{"wrong audience", e.crafted(e.contoso, "admin", func(c jwt.MapClaims) { c["aud"] = directory.GraphAppID; c["roles"] = []string{"Mapdrive.Admin"} })},
			{"wrong issuer", e.crafted(e.contoso, "admin", func(c jwt.MapClaims) {
				c["iss"] = "https://login.microsoftonline.com/" + e.contoso.ID + "/v2.0"
				c["roles"] = []string{"Mapdrive.Admin"}
			})},
			{"alg none", algNone},
			{"unknown key", unknownKey},
			{"garbage", "abc.def.ghi"},
			// The portal's ID token has the API's audience and the admin
			// role, but it is not an access token (#15 item 11).
			{"id token", e.idToken(e.contoso, "admin")},
			{"other version's issuer", e.crafted(e.contoso, "admin", func(c jwt.MapClaims) {
				c["roles"] = []string{"Mapdrive.Admin"}
				if c["ver"] == "1.0" {
					c["iss"] = e.sim.BaseURL() + "/" + e.contoso.ID + "/v2.0"
				} else {
					c["iss"] = "https://sts.windows.net/" + e.contoso.ID + "/"
				}
			})},
		}
		paths := func(tid, id string) map[string]string {
			return map[string]string{"{tid}": tid, "{id}": id}
		}
		fill := func(pattern string, vals map[string]string) string {
			for k, v := range vals {
				pattern = strings.ReplaceAll(pattern, k, v)
			}
			return pattern
		}
		bodyFor := func(method, pattern string) any {
			if method == "GET" || method == "DELETE" {
				return nil
			}
			switch pattern {
			case apitype.RouteAdminOrder:
				return apitype.ReorderRequest{IDs: []string{own.ID}}
			case apitype.RouteAdminPolicies:
				return apitype.Policies{DeltaPollSeconds: 60}
			case apitype.RouteServiceValidate:
				return apitype.ValidateRequest{}
			}
			return e.financeMapping()
		}
		noScope := e.crafted(e.contoso, "alice", func(c jwt.MapClaims) { c["scp"] = "User.Read" })
		rolesOnly := e.crafted(e.contoso, "admin", func(c jwt.MapClaims) { delete(c, "scp"); c["roles"] = []string{directory.DemoAdminRole} })
		aliceTok := e.token("contoso", "alice")
		checked := 0
		for _, rt := range e.api.routes() {
			if rt.access == public {
				continue
			}
			checked++
			mp := rt.method + " " + rt.pattern
			// Order matters: destructive checks of the caller's own tenant come last.
			for _, c := range unauth {
				r := e.do(rt.method, fill(rt.pattern, paths(e.contoso.ID, own.ID)), c.tok, bodyFor(rt.method, rt.pattern))
				if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s as %s = %d, want 401 with WWW-Authenticate", mp, c.name, r.status)
				}
				if c.name == "expired" && !strings.Contains(r.header.Get("WWW-Authenticate"), "expired_token") {
					t.Errorf("%s as expired: WWW-Authenticate %q lacks expired_token", mp, r.header.Get("WWW-Authenticate"))
				}
			}
			switch rt.access {
			case user:
				if r := e.do(rt.method, rt.pattern, noScope, bodyFor(rt.method, rt.pattern)); r.status != http.StatusForbidden {
					t.Errorf("%s without the scope = %d, want 403", mp, r.status)
				}
				// An app-role token (no scp at all) is not a user's.
				if r := e.do(rt.method, rt.pattern, rolesOnly, bodyFor(rt.method, rt.pattern)); r.status != http.StatusForbidden {
					t.Errorf("%s with roles and no scp = %d, want 403", mp, r.status)
				}
			case admin:
				// A plain user on an admin route.
				if r := e.do(rt.method, fill(rt.pattern, paths(e.contoso.ID, own.ID)), aliceTok, bodyFor(rt.method, rt.pattern)); r.status != http.StatusForbidden {
					t.Errorf("%s as a user = %d, want 403", mp, r.status)
				}
				// An admin of contoso on fabrikam's tenant.
				if r := e.do(rt.method, fill(rt.pattern, paths(e.fabrikam.ID, foreign.ID)), adminTok, bodyFor(rt.method, rt.pattern)); r.status != http.StatusForbidden {
					t.Errorf("%s on another tenant = %d, want 403", mp, r.status)
				}
				// An admin of contoso naming fabrikam's mapping under its own tenant.
				if strings.Contains(rt.pattern, "{id}") {
					if r := e.do(rt.method, fill(rt.pattern, paths(e.contoso.ID, foreign.ID)), adminTok, bodyFor(rt.method, rt.pattern)); r.status != http.StatusNotFound {
						t.Errorf("%s on another tenant's mapping = %d, want 404", mp, r.status)
					}
				}
			}
		}
		if checked < 14 {
			t.Errorf("matrix covered %d routes", checked)
		}
		// fabrikam's data is untouched.
		var fl apitype.AdminMappingList
		e.decode(e.do("GET", "/v1/tenants/"+e.fabrikam.ID+"/mappings", fabAdmin, nil), &fl)
		if len(fl.Mappings) != 1 || fl.Mappings[0].DisplayName != "Sales" {
			t.Errorf("fabrikam's mappings = %+v", fl.Mappings)
		}
		testenv.AssertAbsent(t, "logs", e.logs.Bytes(), "alice@contoso.com", "admin@contoso.com", "fiona@fabrikam.com")
	})
}

// TestMappingsWithheldFromClientsWithoutTheirFeature: a mapping rooted at
// a folder, with exclusive editing, or combining libraries, is given only to a client that
// declares that feature. A client that predates it gets the other mappings, with a
// lease whose digest matches what it was sent, instead of a lease it
// would refuse whole.
func TestMappingsWithheldFromClientsWithoutTheirFeature(t *testing.T) {
	eachDB(t, func(t *testing.T, db testenv.DB) {
		e := newEnv(t, db)
		admin := e.token("contoso", "admin")
		board := e.financeMapping()
		board.DisplayName, board.DriveLetter, board.MountName, board.Target.FolderPath = "Board", "K", "Board", "/Board"
		locked := e.financeMapping()
		locked.DisplayName, locked.DriveLetter, locked.MountName, locked.ExclusiveEditing = "Locked", "L", "Locked", true
		company := e.financeMapping()
		company.DisplayName, company.DriveLetter, company.MountName = "Company", "S", "Company"
		company.Target = apitype.Target{Kind: apitype.TargetCombined, Members: []apitype.CombinedMember{
			{Name: "Finance", Target: e.financeMapping().Target}, {Name: "Mine", Target: apitype.Target{Kind: apitype.TargetOneDrive}}}}
		for _, m := range []apitype.AdminMapping{e.financeMapping(), board, locked, company} {
			if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", admin, m); r.status != http.StatusCreated {
				t.Fatalf("create %s = %d %s", m.DisplayName, r.status, r.body)
			}
		}
		var key apitype.LeaseKey
		e.decode(e.do("GET", "/v1/lease-key", "", nil), &key)
		pub, err := lease.ParsePublicKey(key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		alice := e.token("contoso", "alice")
		for _, tc := range []struct {
			name     string
			features []string
			query    string
			want     []string
		}{
			{"a client that predates folder targets", nil, "", []string{"Finance"}},
			{"a client with another feature only", []string{"somethingElse"}, "?features=somethingElse", []string{"Finance"}},
			{"a client with folder targets but not check-out", []string{apitype.FeatureFolderTarget}, "?features=" + apitype.FeatureFolderTarget, []string{"Finance", "Board"}},
			{"a client with check-out but not combined drives", []string{apitype.FeatureFolderTarget, apitype.FeatureExclusiveEditing},
				"?features=" + apitype.FeatureFolderTarget + "," + apitype.FeatureExclusiveEditing, []string{"Finance", "Board", "Locked"}},
			{"this client", apitype.ClientFeatures(), "?features=" + strings.Join(apitype.ClientFeatures(), ","), []string{"Finance", "Board", "Locked", "Company"}},
		} {
			var vr apitype.ValidateResponse
			e.decode(e.do("POST", "/v1/validate", alice, apitype.ValidateRequest{ClientVersion: "0.1.0", Features: tc.features}), &vr)
			var got []string
			for _, m := range vr.Mappings {
				got = append(got, m.DisplayName)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: validate gives %v, want %v", tc.name, got, tc.want)
			}
			l, err := lease.Verify(pub, vr.Lease, time.Now())
			if err != nil || l.MappingsDigest != apitype.MappingsDigest(vr.Mappings) {
				t.Errorf("%s: the lease's digest does not match the mappings sent (%v)", tc.name, err)
			}
			var ml apitype.MappingList
			e.decode(e.do("GET", "/v1/mappings"+tc.query, alice, nil), &ml)
			if ml.MappingsDigest != vr.MappingsDigest {
				t.Errorf("%s: GET /v1/mappings%s gives other mappings than validate", tc.name, tc.query)
			}
		}
	})
}
