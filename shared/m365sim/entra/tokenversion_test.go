package entra

import (
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Contract (graph-contract.md, "Entra ID"): the version of an access token
// is chosen by the API's registration (api.requestedAccessTokenVersion),
// not by the client: null or 1 gives v1.0 (ver "1.0", iss
// "https://sts.windows.net/{tid}/", aud the App ID URI, appid instead of
// azp, upn/unique_name instead of preferred_username); 2 gives v2.0 (iss
// "<authority>/{tid}/v2.0", aud the client id). Graph's tokens do not
// change.
func TestConformanceAccessTokenVersion(t *testing.T) {
	e := newEnv(t)
	ten := e.dir.Tenant("contoso")
	alice := ten.User("alice")
	mint := func(t *testing.T, scope string) map[string]any {
		t.Helper()
		// The client uses the v2.0 endpoint in every case.
		raw, err := e.srv.MintAccessToken(directory.DemoContosoID, alice.ID, pubClient, []string{scope})
		if err != nil {
			t.Fatal(err)
		}
		return e.claims(t, raw)
	}
	t.Run("v1 by default", func(t *testing.T) {
		c := mint(t, directory.DemoServiceV1AppURI+"/"+directory.DemoServiceScope)
		want := map[string]any{
			"ver": "1.0", "iss": "https://sts.windows.net/" + directory.DemoContosoID + "/", "aud": directory.DemoServiceV1AppURI,
			"appid": pubClient, "upn": "alice@contoso.com", "unique_name": "alice@contoso.com", "scp": directory.DemoServiceScope,
			"tid": directory.DemoContosoID, "oid": alice.ID,
		}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("%s = %v, want %v", k, c[k], v)
			}
		}
		for _, k := range []string{"azp", "azpacr", "preferred_username"} {
			if _, ok := c[k]; ok {
				t.Errorf("v1.0 token carries %s = %v", k, c[k])
			}
		}
	})
	t.Run("v2 when asked", func(t *testing.T) {
		c := mint(t, directory.DemoServiceAppURI+"/"+directory.DemoServiceScope)
		want := map[string]any{
			"ver": "2.0", "iss": e.base + "/" + directory.DemoContosoID + "/v2.0", "aud": directory.DemoServiceAppID,
			"azp": pubClient, "preferred_username": "alice@contoso.com", "scp": directory.DemoServiceScope,
		}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("%s = %v, want %v", k, c[k], v)
			}
		}
		// v2.0 names the calling app by azp alone: appid and appidacr
		// are v1.0 claims.
		for _, k := range []string{"unique_name", "appid", "appidacr"} {
			if _, ok := c[k]; ok {
				t.Errorf("v2.0 token carries %s = %v", k, c[k])
			}
		}
	})
	t.Run("graph unchanged", func(t *testing.T) {
		c := mint(t, "User.Read")
		if c["ver"] != "2.0" || c["iss"] != e.base+"/"+directory.DemoContosoID+"/v2.0" || c["aud"] != directory.GraphAppID || c["azp"] != pubClient {
			t.Errorf("Graph token claims = %v", c)
		}
		if len(toStrings(c["groups"])) == 0 {
			t.Error("Graph token lost its groups")
		}
	})
}

// Contract (graph-contract.md, "Entra ID"): groups is in a token only if
// the app registration asks for group claims (groupMembershipClaims); by
// default there is none. Past 200 groups the token carries
// _claim_names/_claim_sources instead.
func TestConformanceGroupClaims(t *testing.T) {
	seed := &directory.Seed{
		Apps: []directory.App{
			{ClientID: pubClient, DisplayName: "Mapdrive", PublicClient: true},
			{ClientID: "a0000000-0000-4000-8000-000000000001", DisplayName: "default", IdentifierURI: "api://plain", Scopes: []string{"Access"}},
			{ClientID: "a0000000-0000-4000-8000-000000000002", DisplayName: "none", IdentifierURI: "api://none", Scopes: []string{"Access"},
				GroupMembershipClaims: "None", RequestedAccessTokenVersion: 2},
			{ClientID: "a0000000-0000-4000-8000-000000000003", DisplayName: "groups v1", IdentifierURI: "api://groups1", Scopes: []string{"Access"},
				GroupMembershipClaims: "SecurityGroup"},
			{ClientID: "a0000000-0000-4000-8000-000000000004", DisplayName: "groups v2", IdentifierURI: "api://groups2", Scopes: []string{"Access"},
				GroupMembershipClaims: "All", RequestedAccessTokenVersion: 2},
		},
		Tenants: []directory.Tenant{{Name: "big", Domains: []string{"big.example"},
			Users: []directory.User{{UserName: "many"}, {UserName: "few"}}}},
	}
	for i := range 201 {
		members := []string{"many"}
		if i < 3 {
			members = append(members, "few")
		}
		seed.Tenants[0].Groups = append(seed.Tenants[0].Groups, directory.Group{DisplayName: "g" + itoa(i), Members: members})
	}
	e := newEnvSeed(t, seed, t.TempDir())
	for _, tc := range []struct {
		api    string
		groups bool
	}{{"api://plain", false}, {"api://none", false}, {"api://groups1", true}, {"api://groups2", true}} {
		t.Run(strings.TrimPrefix(tc.api, "api://"), func(t *testing.T) {
			raw, err := e.srv.MintAccessToken("big", "few", pubClient, []string{tc.api + "/Access"})
			if err != nil {
				t.Fatal(err)
			}
			c := e.claims(t, raw)
			if got := toStrings(c["groups"]); (len(got) == 3) != tc.groups || (!tc.groups && c["groups"] != nil) {
				t.Errorf("groups claim = %v, want present: %v", c["groups"], tc.groups)
			}
			raw, err = e.srv.MintAccessToken("big", "many", pubClient, []string{tc.api + "/Access"})
			if err != nil {
				t.Fatal(err)
			}
			c = e.claims(t, raw)
			names, _ := c["_claim_names"].(map[string]any)
			sources, _ := c["_claim_sources"].(map[string]any)
			if c["groups"] != nil {
				t.Errorf("201 groups: groups claim present")
			}
			if overage := names["groups"] == "src1" && sources["src1"] != nil; overage != tc.groups {
				t.Errorf("201 groups: overage claims %v %v, want present: %v", names, sources, tc.groups)
			}
		})
	}
}

// A seed that asks for a token version or group claims Entra does not
// know is refused when it loads, not at the first token.
func TestSeedTokenSettingsChecked(t *testing.T) {
	for _, app := range []directory.App{
		{ClientID: "b", DisplayName: "v3", RequestedAccessTokenVersion: 3},
		{ClientID: "c", DisplayName: "groups", GroupMembershipClaims: "Everything"},
	} {
		_, err := directory.New(&directory.Seed{Apps: []directory.App{app}})
		if err == nil || !strings.Contains(err.Error(), app.DisplayName) {
			t.Errorf("seed with app %+v: %v", app, err)
		}
	}
	d, err := directory.New(directory.DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	if v := d.App(directory.DemoServiceAppURI).AccessTokenVersion(); v != 2 {
		t.Errorf("demo API (used by make demo) gives v%d tokens, want v2", v)
	}
	if v := d.App(directory.DemoServiceV1AppURI).AccessTokenVersion(); v != 1 {
		t.Errorf("demo v1 API gives v%d tokens", v)
	}
	if !d.App(directory.DemoServiceAppURI).GroupClaims() {
		t.Error("demo API no longer asks for group claims")
	}
}

// Microsoft, "Configure group claims for applications by using Microsoft
// Entra ID": "Group claims in tokens include nested groups ... If a user is
// a member of GroupB, and GroupB is a member of GroupA, then the group
// claims for the user will contain both GroupA and GroupB", and the 200
// limit for JWTs is counted "including nested groups".
func TestConformanceGroupClaimsNested(t *testing.T) {
	seed := &directory.Seed{
		Apps: []directory.App{
			{ClientID: pubClient, DisplayName: "Mapdrive", PublicClient: true},
			{ClientID: "a0000000-0000-4000-8000-000000000003", DisplayName: "groups", IdentifierURI: "api://groups", Scopes: []string{"Access"},
				GroupMembershipClaims: "SecurityGroup", RequestedAccessTokenVersion: 2},
		},
		Tenants: []directory.Tenant{{Name: "nest", Domains: []string{"nest.example"},
			Users: []directory.User{{UserName: "b"}, {UserName: "deep"}, {UserName: "out"}},
			Groups: []directory.Group{
				{DisplayName: "GroupA", MemberGroups: []string{"GroupB"}},
				{DisplayName: "GroupB", Members: []string{"b"}},
				{DisplayName: "Other", Members: []string{"out"}},
				{DisplayName: "Leaf", Members: []string{"deep"}},
			}}},
	}
	// Leaf sits in 200 groups through nesting alone: with it, deep's
	// transitive memberships number 201, past the limit.
	for i := range 200 {
		seed.Tenants[0].Groups = append(seed.Tenants[0].Groups, directory.Group{DisplayName: "up" + itoa(i), MemberGroups: []string{"Leaf"}})
	}
	e := newEnvSeed(t, seed, t.TempDir())
	tn := e.dir.Tenant("nest")
	claim := func(user string) jwt.MapClaims {
		t.Helper()
		raw, err := e.srv.MintAccessToken("nest", user, pubClient, []string{"api://groups/Access"})
		if err != nil {
			t.Fatal(err)
		}
		return e.claims(t, raw)
	}
	got := toStrings(claim("b")["groups"])
	slices.Sort(got)
	want := []string{tn.Group("GroupA").ID, tn.Group("GroupB").ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("b's groups claim = %v, want GroupA and GroupB %v", got, want)
	}
	if got := toStrings(claim("out")["groups"]); !slices.Equal(got, []string{tn.Group("Other").ID}) {
		t.Errorf("out's groups claim = %v, want Other only", got)
	}
	c := claim("deep")
	names, _ := c["_claim_names"].(map[string]any)
	if c["groups"] != nil || names["groups"] != "src1" {
		t.Errorf("deep (1 direct + 200 nested groups): groups %v, _claim_names %v, want the overage form", c["groups"], names)
	}
}
