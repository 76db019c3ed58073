package api

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// serviceAPI is one of the demo's service API registrations.
type serviceAPI struct{ ver, appID, secret string }

// serviceAPIs are the demo's two service APIs: the one left at Entra's
// defaults (v1.0 tokens; newGroupsEnv also takes its groups claim away)
// and the one registered for v2.0 tokens with a groups claim.
var serviceAPIs = []serviceAPI{
	{"1.0", directory.DemoServiceV1AppID, directory.DemoServiceV1Secret},
	{"2.0", directory.DemoServiceAppID, directory.DemoServiceSecret},
}

// newGroupsEnv starts a simulator on the demo seed with groups added to
// contoso, and the service API on it, validating tokens of api's version
// and resolving groups through Graph with api's registration.
func newGroupsEnv(t *testing.T, db testenv.DB, api serviceAPI, groups ...directory.Group) (*env, *m365sim.Sim) {
	t.Helper()
	seed := directory.DemoSeed()
	for i := range seed.Apps {
		if seed.Apps[i].ClientID == directory.DemoServiceV1AppID {
			seed.Apps[i].GroupMembershipClaims = "" // Entra's default
		}
	}
	seed.Tenants[0].Groups = append(seed.Tenants[0].Groups, groups...)
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	e := newEnvSim(t, db, sim, func(c *Config) {
		c.Groups = &authn.GraphGroups{AuthorityHost: sim.BaseURL(), GraphURL: sim.GraphURL(),
			ClientID: api.appID, ClientSecret: api.secret, HTTPClient: sim.HTTPClient()}
	})
	e.ver = api.ver
	return e, sim
}

// TestGroupMappingWithoutGroupsClaim assigns a mapping to the Marketing
// group. With the API left at Entra's defaults (v1.0 tokens, no groups
// claim) and with v2.0 tokens whose groups overflow into the overage
// form, the service looks the groups up in Graph on the user's behalf:
// the members get the mapping, a user outside the group does not, and a
// second validation within five minutes asks Graph nothing.
func TestGroupMappingWithoutGroupsClaim(t *testing.T) {
	for _, tc := range serviceAPIs {
		t.Run("v"+tc.ver, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db testenv.DB) {
				// bob is in 201 more groups: past 200, a v2 token carries
				// the overage form instead of his groups.
				var projects []directory.Group
				for i := range 201 {
					projects = append(projects, directory.Group{DisplayName: fmt.Sprintf("Project %03d", i), Members: []string{"bob"}})
				}
				e, sim := newGroupsEnv(t, db, tc, projects...)
				mkt := e.financeMapping()
				mkt.DisplayName, mkt.DriveLetter, mkt.MountName, mkt.Groups = "Marketing", "M", "Marketing", []string{e.marketingGroup}
				mkt.Target.SiteURL = e.contoso.SiteURL(e.contoso.Site("Marketing"))
				if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", e.token("contoso", "admin"), mkt); r.status != http.StatusCreated {
					t.Fatalf("create Marketing = %d %s", r.status, r.body)
				}
				has := func(user string) bool { return e.hasMapping(user, "Marketing") }
				p, err := e.validator.Validate(t.Context(), e.token("contoso", "bob"))
				if err != nil {
					t.Fatal(err)
				}
				if tc.ver == "1.0" && p.GroupsClaim || tc.ver == "2.0" && !p.GroupsOverage {
					t.Fatalf("bob's v%s principal: groups claim %v, overage %v; the test needs none / overage", tc.ver, p.GroupsClaim, p.GroupsOverage)
				}
				for _, u := range []struct {
					name string
					want bool
				}{{"alice", true}, {"bob", true}, {"admin", false}} {
					if got := has(u.name); got != u.want {
						t.Errorf("%s has the Marketing mapping: %v, want %v", u.name, got, u.want)
					}
				}
				before, err := sim.Admin().Counters(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				has("bob")
				after, err := sim.Admin().Counters(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if d := after.Count(m365sim.RouteToken, http.MethodPost, 0, "") - before.Count(m365sim.RouteToken, http.MethodPost, 0, ""); d != 0 {
					t.Errorf("a second validation within the cache's five minutes made %d token requests, want 0", d)
				}
			})
		})
	}
}

// hasMapping reports whether contoso's user gets the mapping named name
// from /v1/validate.
func (e *env) hasMapping(user, name string) bool {
	e.t.Helper()
	r := e.do("POST", "/v1/validate", e.token("contoso", user), apitype.ValidateRequest{ClientVersion: "0.1.0", OS: "linux"})
	if r.status != http.StatusOK {
		e.t.Fatalf("validate %s = %d %s", user, r.status, r.body)
	}
	var vr apitype.ValidateResponse
	e.decode(r, &vr)
	return slices.ContainsFunc(vr.Mappings, func(m apitype.Mapping) bool { return m.DisplayName == name })
}

// TestNestedGroupMapping assigns a mapping to Engineering, a security
// group whose only member is another group, Platform, which holds bob.
// Bob gets the mapping: with the API at Entra's defaults (v1.0, no groups
// claim) through Graph's /me/transitiveMemberOf on his behalf, and with a
// v2.0 token whose groups claim lists nested groups, as Entra's does. A
// user outside both groups does not.
func TestNestedGroupMapping(t *testing.T) {
	for _, tc := range serviceAPIs {
		t.Run("v"+tc.ver, func(t *testing.T) {
			e, _ := newGroupsEnv(t, testenv.SQLite(t), tc,
				directory.Group{DisplayName: "Engineering", MemberGroups: []string{"Platform"}},
				directory.Group{DisplayName: "Platform", Members: []string{"bob"}})
			m := e.financeMapping()
			m.DisplayName, m.DriveLetter, m.MountName, m.Groups = "Engineering", "E", "Engineering", []string{e.contoso.Group("Engineering").ID}
			if r := e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", e.token("contoso", "admin"), m); r.status != http.StatusCreated {
				t.Fatalf("create Engineering = %d %s", r.status, r.body)
			}
			p, err := e.validator.Validate(t.Context(), e.token("contoso", "bob"))
			if err != nil {
				t.Fatal(err)
			}
			if p.GroupsClaim != (tc.ver == "2.0") {
				t.Fatalf("bob's v%s principal: groups claim %v; the test needs one only in v2.0", tc.ver, p.GroupsClaim)
			}
			for _, u := range []struct {
				name string
				want bool
			}{{"bob", true}, {"alice", false}, {"admin", false}} {
				if got := e.hasMapping(u.name, "Engineering"); got != u.want {
					t.Errorf("%s has the Engineering mapping: %v, want %v", u.name, got, u.want)
				}
			}
		})
	}
}
