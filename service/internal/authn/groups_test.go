package authn

import (
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// TestGraphGroupsOnBehalfOf resolves a user's groups through m365sim's
// on-behalf-of grant and /me/transitiveMemberOf, for an API left at
// Entra's defaults (v1.0 tokens, no groups claim) and one registered for
// v2.0 tokens; a wrong secret is refused.
func TestGraphGroupsOnBehalfOf(t *testing.T) {
	seed := directory.DemoSeed()
	for i := range seed.Apps {
		if seed.Apps[i].ClientID == directory.DemoServiceV1AppID {
			seed.Apps[i].GroupMembershipClaims = "" // Entra's default: no groups claim
		}
	}
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	v, err := New(t.Context(), Config{AuthorityHost: sim.BaseURL(), HTTPClient: sim.HTTPClient(),
		Audiences: []string{directory.DemoServiceAppID, directory.DemoServiceV1AppURI}})
	if err != nil {
		t.Fatal(err)
	}
	contoso := sim.Directory().Tenant("contoso")
	for _, api := range []struct{ id, uri, secret string }{
		{directory.DemoServiceV1AppID, directory.DemoServiceV1AppURI, directory.DemoServiceV1Secret},
		{directory.DemoServiceAppID, directory.DemoServiceAppURI, directory.DemoServiceSecret},
	} {
		raw, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "bob", directory.DemoClientID, []string{api.uri + "/" + directory.DemoServiceScope})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Validate(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		if api.id == directory.DemoServiceV1AppID && (p.GroupsClaim || p.GroupsOverage) {
			t.Fatalf("v1 principal %+v: want no groups claim", p)
		}
		g := &GraphGroups{AuthorityHost: sim.BaseURL(), GraphURL: sim.GraphURL(), ClientID: api.id, ClientSecret: api.secret, HTTPClient: sim.HTTPClient()}
		got, err := g.MemberOf(t.Context(), p)
		if err != nil {
			t.Fatalf("%s: MemberOf: %v", api.uri, err)
		}
		for _, name := range []string{"Marketing", "All Staff"} {
			if !slices.Contains(got, contoso.Group(name).ID) {
				t.Errorf("%s: bob's groups %v lack %s", api.uri, got, name)
			}
		}
		if slices.Contains(got, contoso.Group("Finance Team").ID) {
			t.Errorf("%s: bob's groups %v hold Finance Team, which he is not in", api.uri, got)
		}
		g.ClientSecret = "wrong"
		if _, err := g.MemberOf(t.Context(), p); err == nil {
			t.Errorf("%s: MemberOf with a wrong secret succeeded", api.uri)
		}
	}
}
