package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

func TestMeReturnsTheSignedInUser(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me", tok: e.alice()}).want(t, 200)
	u := e.dir.Tenant("contoso").User("alice")
	if r.str("id") != u.ID || r.str("displayName") != "Alice Anders" || r.str("userPrincipalName") != "alice@contoso.com" || r.str("mail") != "alice@contoso.com" {
		t.Errorf("/me = %s", r.raw)
	}
	if r.header.Get("request-id") == "" || r.header.Get("client-request-id") == "" {
		t.Errorf("missing request-id headers: %v", r.header)
	}
}

func TestMeNeedsUserRead(t *testing.T) {
	e := newEnv(t)
	e.call(req{path: "/v1.0/me", tok: e.tok("contoso", "alice", "Files.ReadWrite.All")}).want(t, 403, "accessDenied")
}

func TestAuthenticationFailuresGive401InvalidAuthenticationToken(t *testing.T) {
	e := newEnv(t)
	other, err := token.NewEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	tn := e.dir.Tenant("contoso")
	foreign, _ := other.Sign(jwt.MapClaims{"aud": directory.GraphAppID, "tid": tn.ID, "oid": tn.User("alice").ID, "scp": allScopes, "exp": time.Now().Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name, auth string
	}{
		{"missing", ""},
		{"not bearer", "Basic abc"},
		{"garbage", "Bearer abc.def.ghi"},
		{"unknown signer", "Bearer " + foreign},
		{"wrong audience", "Bearer " + e.tok("contoso", "alice", allScopes, func(c jwt.MapClaims) { c["aud"] = directory.DemoServiceAppID })},
		{"unknown user", "Bearer " + e.tok("contoso", "alice", allScopes, func(c jwt.MapClaims) { c["oid"] = directory.GUID("nobody") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(req{path: "/v1.0/me", hdr: map[string]string{"Authorization": tc.auth}}).want(t, 401, "InvalidAuthenticationToken")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestExpiredTokenGives401WithExpiredTokenChallenge(t *testing.T) {
	e := newEnv(t)
	tok := e.alice()
	e.clock.Advance(2 * time.Hour)
	r := e.call(req{path: "/v1.0/me/drive", tok: tok}).want(t, 401, "InvalidAuthenticationToken")
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "expired_token") {
		t.Errorf("WWW-Authenticate = %q, want invalid_token and expired_token", h)
	}
}

func TestGraphAudienceURIIsAccepted(t *testing.T) {
	e := newEnv(t)
	tok := e.tok("contoso", "alice", allScopes, func(c jwt.MapClaims) { c["aud"] = "https://graph.microsoft.com" })
	e.call(req{path: "/v1.0/me", tok: tok}).want(t, 200)
}

func TestErrorBodyIsGraphShaped(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive/items/nope", tok: e.alice(), hdr: map[string]string{"client-request-id": "abc-123"}}).want(t, 404, "itemNotFound")
	if r.str("error", "message") == "" || r.str("error", "innerError", "code") == "" || r.str("error", "innerError", "date") == "" ||
		r.str("error", "innerError", "request-id") != r.header.Get("request-id") || r.str("error", "innerError", "client-request-id") != "abc-123" {
		t.Errorf("error body = %s", r.raw)
	}
	if r.header.Get("client-request-id") != "abc-123" {
		t.Errorf("client-request-id header = %q", r.header.Get("client-request-id"))
	}
}

func TestMeDriveHasIDTypeOwnerAndQuota(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drive", tok: e.alice()}).want(t, 200)
	if r.str("id") != e.driveOf("contoso", "alice") || r.str("driveType") != "business" || r.str("owner", "user", "displayName") != "Alice Anders" {
		t.Errorf("drive = %s", r.raw)
	}
	q, _ := r.get("quota").(map[string]any)
	for _, k := range []string{"total", "used", "remaining", "deleted", "state"} {
		if _, ok := q[k]; !ok {
			t.Errorf("quota lacks %s: %s", k, r.raw)
		}
	}
	if used := q["used"].(float64); used != float64(256<<10+46+len("# Notes\n\n- try ls, cp and mv in the mount\n")) {
		t.Errorf("quota.used = %v", used)
	}
	e.call(req{path: "/v1.0/drives/" + r.str("id"), tok: e.alice()}).want(t, 200)
}

func TestMeDrivesListsTheUsersDrive(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/drives", tok: e.alice()}).want(t, 200)
	if v := r.values(); len(v) != 1 || v[0]["id"] != e.driveOf("contoso", "alice") {
		t.Errorf("/me/drives = %s", r.raw)
	}
}

func TestMemberOfListsGroupsAsGraphGroups(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me/memberOf", tok: e.bob()}).want(t, 200)
	var names []string
	for _, g := range r.values() {
		if g["@odata.type"] != "#microsoft.graph.group" {
			t.Errorf("member of %v", g)
		}
		names = append(names, g["displayName"].(string))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"All Staff", "Marketing"}) {
		t.Errorf("bob's groups = %v", names)
	}
}

func TestJoinedTeamsNeedsATeamScopeAndListsTeams(t *testing.T) {
	e := newEnv(t)
	e.call(req{path: "/v1.0/me/joinedTeams", tok: e.alice()}).want(t, 403, "accessDenied")
	r := e.call(req{path: "/v1.0/me/joinedTeams", tok: e.tok("contoso", "alice", allScopes+" Team.ReadBasic.All")}).want(t, 200)
	if len(r.values()) != 2 {
		t.Errorf("alice's teams = %s", r.raw)
	}
}

func TestGroupDriveOfATeamIsItsSiteLibrary(t *testing.T) {
	e := newEnv(t)
	g := e.dir.Tenant("contoso").Group("Marketing")
	r := e.call(req{path: "/v1.0/groups/" + g.ID + "/drive", tok: e.bob()}).want(t, 200)
	if r.str("id") != e.library("contoso", "Marketing", "Documents") || r.str("driveType") != "documentLibrary" {
		t.Errorf("group drive = %s", r.raw)
	}
	e.call(req{path: "/v1.0/groups/" + g.ID + "/drive/root:/General/Campaign.txt", tok: e.bob()}).want(t, 200)
	fin := e.dir.Tenant("contoso").Group("Finance Team")
	e.call(req{path: "/v1.0/groups/" + fin.ID + "/drive", tok: e.tok("contoso", "admin", allScopes)}).want(t, 200)
}

// Issue 13, item 6: followedSites lists only the sites the user follows,
// not every site they can reach (bob reaches Finance as a visitor and
// Marketing as a member, and follows only Marketing).
func TestFollowedSitesListsOnlyFollowedSites(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ user, want string }{{"admin", "Finance"}, {"alice", "Finance"}, {"bob", "Marketing"}} {
		r := e.call(req{path: "/v1.0/me/followedSites", tok: e.tok("contoso", tc.user, allScopes)}).want(t, 200)
		if v := r.values(); len(v) != 1 || v[0]["name"] != tc.want {
			t.Errorf("%s's followed sites = %s, want only %s", tc.user, r.raw, tc.want)
		}
	}
}

// Issue 13, item 6 (contract, "Listing": @odata.nextLink is opaque and
// followed verbatim): every discovery collection pages.
func TestDiscoveryCollectionsPage(t *testing.T) {
	e := newEnv(t)
	tok := e.tok("contoso", "alice", allScopes+" Team.ReadBasic.All")
	fin := e.dir.Tenant("contoso").Site("Finance")
	siteID := e.dir.Tenant("contoso").SiteID(fin)
	for _, tc := range []struct {
		path string
		min  int
	}{
		{"/v1.0/sites?search=*", 2},
		{"/v1.0/me/memberOf", 3},
		{"/v1.0/me/transitiveMemberOf", 3},
		{"/v1.0/me/joinedTeams", 2},
		{"/v1.0/sites/" + siteID + "/drives", 2},
	} {
		var names []string
		link := tc.path + "?$top=1"
		if strings.Contains(tc.path, "?") {
			link = tc.path + "&$top=1"
		}
		for pages := 0; link != ""; pages++ {
			if pages > 10 {
				t.Fatalf("%s: more than 10 pages", tc.path)
			}
			r := e.call(req{path: link, tok: tok}).want(t, 200)
			v := r.values()
			if len(v) != 1 {
				t.Fatalf("%s page %d: %d values, want 1 ($top=1)", tc.path, pages, len(v))
			}
			names = append(names, fmt.Sprint(v[0]["id"]))
			link = r.str("@odata.nextLink")
		}
		if len(names) < tc.min {
			t.Errorf("%s: %d values over its pages, want at least %d", tc.path, len(names), tc.min)
		}
		if len(names) != len(slices.Compact(slices.Sorted(slices.Values(names)))) {
			t.Errorf("%s: a value came twice over the pages: %v", tc.path, names)
		}
	}
}

func TestSiteSearchShowsOnlySitesTheUserCanSee(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		user, q string
		want    []string
	}{
		{"alice", "*", []string{"Finance", "Marketing"}},
		{"admin", "*", []string{"Finance"}},
		{"admin", "market", nil},
		{"bob", "fin", []string{"Finance"}},
	} {
		r := e.call(req{path: "/v1.0/sites?search=" + tc.q, tok: e.tok("contoso", tc.user, allScopes)}).want(t, 200)
		var got []string
		for _, v := range r.values() {
			got = append(got, v["name"].(string))
			if id := v["id"].(string); strings.Count(id, ",") != 2 || !strings.HasPrefix(id, "contoso.sharepoint.com,") {
				t.Errorf("site id %q is not host,guid,guid", id)
			}
			if v["webUrl"] == nil || v["createdDateTime"] == nil || v["lastModifiedDateTime"] == nil {
				t.Errorf("site lacks fields: %v", v)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s searching %q sees %v, want %v", tc.user, tc.q, got, tc.want)
		}
	}
	fr := e.call(req{path: "/v1.0/sites?search=*", tok: e.tok("fabrikam", "frank", allScopes)}).want(t, 200)
	if v := fr.values(); len(v) != 1 || v[0]["name"] != "Sales" {
		t.Errorf("frank sees %s", fr.raw)
	}
}

func TestSiteByHostAndPathResolves(t *testing.T) {
	e := newEnv(t)
	tn := e.dir.Tenant("contoso")
	want := tn.SiteID(tn.Site("Finance"))
	for _, p := range []string{
		"/v1.0/sites/contoso.sharepoint.com:/sites/Finance",
		"/v1.0/sites/contoso.sharepoint.com:/sites/Finance:",
		"/v1.0/sites/contoso.sharepoint.com:/sites/Finance:/",
	} {
		r := e.call(req{path: p, tok: e.alice()}).want(t, 200)
		if r.str("id") != want {
			t.Errorf("%s -> %s, want id %s", p, r.raw, want)
		}
	}
	r := e.call(req{path: "/v1.0/sites/contoso.sharepoint.com:/sites/Finance:/drives", tok: e.alice()}).want(t, 200)
	if len(r.values()) != 2 {
		t.Errorf("Finance drives = %s", r.raw)
	}
	e.call(req{path: "/v1.0/sites/contoso.sharepoint.com:/sites/Nope", tok: e.alice()}).want(t, 404, "itemNotFound")
	e.call(req{path: "/v1.0/sites/fabrikam.sharepoint.com:/sites/Sales", tok: e.alice()}).want(t, 404, "itemNotFound")
}

func TestSiteByCompositeIDAndItsDrives(t *testing.T) {
	e := newEnv(t)
	tn := e.dir.Tenant("contoso")
	id := tn.SiteID(tn.Site("Finance"))
	r := e.call(req{path: "/v1.0/sites/" + id, tok: e.bob()}).want(t, 200)
	if r.str("displayName") != "Finance" || r.str("webUrl") != "https://contoso.sharepoint.com/sites/Finance" {
		t.Errorf("site = %s", r.raw)
	}
	r = e.call(req{path: "/v1.0/sites/" + id + "/drives", tok: e.bob()}).want(t, 200)
	if len(r.values()) != 2 {
		t.Errorf("drives = %s", r.raw)
	}
	e.call(req{path: "/v1.0/sites/" + id + "/drive/root/children", tok: e.bob()}).want(t, 200)
	mk := tn.SiteID(tn.Site("Marketing"))
	e.call(req{path: "/v1.0/sites/" + mk, tok: e.tok("contoso", "admin", allScopes)}).want(t, 403, "accessDenied")
	e.call(req{path: "/v1.0/sites/" + mk + "/drives", tok: e.tok("contoso", "admin", allScopes)}).want(t, 403, "accessDenied")
}

func TestSystemDrivesAreHiddenUnlessSelected(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites[0].Libraries = append(seed.Tenants[0].Sites[0].Libraries, directory.Drive{Name: "Style Library", System: true})
	e := newEnvSeed(t, seed)
	tn := e.dir.Tenant("contoso")
	id := tn.SiteID(tn.Site("Finance"))
	if n := len(e.call(req{path: "/v1.0/sites/" + id + "/drives", tok: e.alice()}).want(t, 200).values()); n != 2 {
		t.Errorf("without $select: %d drives, want 2", n)
	}
	if n := len(e.call(req{path: "/v1.0/sites/" + id + "/drives?$select=id,name,system", tok: e.alice()}).want(t, 200).values()); n != 3 {
		t.Errorf("with $select=system: %d drives, want 3", n)
	}
}

func TestOtherUsersDriveIsAccessDenied(t *testing.T) {
	e := newEnv(t)
	e.call(req{path: "/v1.0/drives/" + e.driveOf("contoso", "bob"), tok: e.alice()}).want(t, 403, "accessDenied")
	e.call(req{path: "/v1.0/drives/" + e.driveOf("contoso", "bob") + "/root/children", tok: e.alice()}).want(t, 403, "accessDenied")
}

func TestOtherTenantsDriveIsNotFound(t *testing.T) {
	e := newEnv(t)
	e.call(req{path: "/v1.0/drives/" + e.driveOf("fabrikam", "frank") + "/root/children", tok: e.alice()}).want(t, 404, "itemNotFound")
	e.call(req{path: "/v1.0/drives/" + e.library("fabrikam", "Sales", "Documents"), tok: e.alice()}).want(t, 404, "itemNotFound")
}

func TestReadOnlyLibraryRejectsWritesWithAccessDenied(t *testing.T) {
	e := newEnv(t)
	pol := e.library("contoso", "Finance", "Policies")
	e.call(req{path: "/v1.0/drives/" + pol + "/root/children", tok: e.alice()}).want(t, 200)
	e.call(req{method: "PUT", path: "/v1.0/drives/" + pol + "/root:/new.txt:/content", tok: e.alice(), body: "x"}).want(t, 403, "accessDenied")
	e.call(req{method: "POST", path: "/v1.0/drives/" + pol + "/root/children", tok: e.alice(), body: map[string]any{"name": "F", "folder": map[string]any{}}}).want(t, 403, "accessDenied")
	e.call(req{method: "DELETE", path: "/v1.0/drives/" + pol + "/root:/Expenses policy.txt", tok: e.alice()}).want(t, 403, "accessDenied")
}

func TestVisitorMayReadButNotWrite(t *testing.T) {
	e := newEnv(t)
	docs := e.library("contoso", "Finance", "Documents")
	e.call(req{path: "/v1.0/drives/" + docs + "/root:/Reports/Q1.txt", tok: e.bob()}).want(t, 200)
	e.call(req{method: "PUT", path: "/v1.0/drives/" + docs + "/root:/Reports/Q1.txt:/content", tok: e.bob(), body: "x"}).want(t, 403, "accessDenied")
}

func TestReadScopeCannotWrite(t *testing.T) {
	e := newEnv(t)
	tok := e.tok("contoso", "alice", "Files.Read.All User.Read")
	e.call(req{path: "/v1.0/me/drive/root/children", tok: tok}).want(t, 200)
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/x.txt:/content", tok: tok, body: "x"}).want(t, 403, "accessDenied")
	// Files.ReadWrite (not .All) reaches only the user's own drive.
	own := e.tok("contoso", "alice", "Files.ReadWrite User.Read")
	e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/x.txt:/content", tok: own, body: "x"}).want(t, 201)
	e.call(req{path: "/v1.0/drives/" + e.library("contoso", "Finance", "Documents") + "/root", tok: own}).want(t, 403, "accessDenied")
	_ = http.StatusOK
}

// Issue 13, item 6 (Microsoft, "Get a site resource": /sites/root and
// /sites/{hostname} address the tenant's root site): the root site
// resolves by /sites/root, by host name alone and by the URL path "/".
// A tenant seeded without one answers 404.
func TestRootSiteResolves(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Sites = append(seed.Tenants[0].Sites, directory.Site{Name: "root", DisplayName: "Contoso", Path: "/",
		Members: []string{"*"}, Libraries: []directory.Drive{{Name: "Documents"}}})
	e := newEnvSeed(t, seed)
	var ids []string
	for _, p := range []string{"/v1.0/sites/root", "/v1.0/sites/contoso.sharepoint.com", "/v1.0/sites/contoso.sharepoint.com:/"} {
		r := e.call(req{path: p, tok: e.alice()}).want(t, 200)
		if r.str("webUrl") != "https://contoso.sharepoint.com/" {
			t.Errorf("%s = %s, want the root site", p, r.raw)
		}
		ids = append(ids, r.str("id"))
	}
	if ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("root site ids %v, want one site", ids)
	}
	if r := e.call(req{path: "/v1.0/sites/root/drive", tok: e.alice()}).want(t, 200); r.str("name") != "Documents" {
		t.Errorf("root site's default library = %s", r.raw)
	}
	newEnv(t).call(req{path: "/v1.0/sites/root", tok: e.alice()}).want(t, 404)
}

// Microsoft, "directoryObject: checkMemberGroups": of the group ids given
// (at most 20), the ones the user is a member of.
func TestCheckMemberGroups(t *testing.T) {
	e := newEnv(t)
	contoso := e.dir.Tenant("contoso")
	fin, mkt := contoso.Group("Finance Team").ID, contoso.Group("Marketing").ID
	tok := e.tok("contoso", "bob", allScopes+" GroupMember.Read.All")
	r := e.call(req{method: http.MethodPost, path: "/v1.0/me/checkMemberGroups", tok: tok, body: map[string]any{"groupIds": []string{fin, mkt}}}).want(t, 200)
	var body struct {
		Value []string `json:"value"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if got := body.Value; !slices.Equal(got, []string{mkt}) {
		t.Errorf("bob's checkMemberGroups(Finance, Marketing) = %s, want only Marketing", r.raw)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = mkt
	}
	e.call(req{method: http.MethodPost, path: "/v1.0/me/checkMemberGroups", tok: tok, body: map[string]any{"groupIds": many}}).want(t, 400)
}

// nestedSeed is the demo seed with security groups nested in each other:
// bob is a direct member of Child only; Child is nested in Parent, and
// Child and Loop are nested in each other (a cycle).
func nestedSeed() *directory.Seed {
	seed := directory.DemoSeed()
	seed.Tenants[0].Groups = append(seed.Tenants[0].Groups,
		directory.Group{DisplayName: "Parent", MemberGroups: []string{"Child"}},
		directory.Group{DisplayName: "Child", Members: []string{"bob"}, MemberGroups: []string{"Loop"}},
		directory.Group{DisplayName: "Loop", MemberGroups: []string{"Child"}})
	return seed
}

// groupNames returns the display names of a directoryObject collection,
// sorted, following @odata.nextLink.
func (e *env) groupNames(t *testing.T, path, tok string) []string {
	t.Helper()
	var names []string
	for link := path; link != ""; {
		r := e.call(req{path: link, tok: tok}).want(t, 200)
		for _, g := range r.values() {
			names = append(names, g["displayName"].(string))
		}
		link = r.str("@odata.nextLink")
	}
	slices.Sort(names)
	return names
}

// Conformance with nested groups. Microsoft, "List a user's direct
// memberships" (user-list-memberof): /me/memberOf "is not transitive";
// "List a user's memberships (direct and transitive)"
// (user-list-transitivememberof) adds the groups reached through nesting;
// "directoryObject: checkMemberGroups": "This function is transitive".
// A cycle of nested groups (Child and Loop) is walked once.
func TestConformanceNestedGroups(t *testing.T) {
	e := newEnvSeed(t, nestedSeed())
	contoso := e.dir.Tenant("contoso")
	tok := e.tok("contoso", "bob", allScopes+" GroupMember.Read.All")
	if got, want := e.groupNames(t, "/v1.0/me/memberOf", tok), []string{"All Staff", "Child", "Marketing"}; !slices.Equal(got, want) {
		t.Errorf("bob's memberOf = %v, want the direct groups %v", got, want)
	}
	if got, want := e.groupNames(t, "/v1.0/me/transitiveMemberOf", tok), []string{"All Staff", "Child", "Loop", "Marketing", "Parent"}; !slices.Equal(got, want) {
		t.Errorf("bob's transitiveMemberOf = %v, want %v", got, want)
	}
	if got, want := e.groupNames(t, "/v1.0/me/transitiveMemberOf?$top=1", tok), []string{"All Staff", "Child", "Loop", "Marketing", "Parent"}; !slices.Equal(got, want) {
		t.Errorf("bob's transitiveMemberOf one per page = %v, want %v", got, want)
	}
	// alice is in none of them, directly or not.
	if got, want := e.groupNames(t, "/v1.0/me/transitiveMemberOf", e.tok("contoso", "alice", allScopes+" GroupMember.Read.All")), []string{"All Staff", "Finance Team", "Marketing"}; !slices.Equal(got, want) {
		t.Errorf("alice's transitiveMemberOf = %v, want %v", got, want)
	}

	parent, loop, fin := contoso.Group("Parent").ID, contoso.Group("Loop").ID, contoso.Group("Finance Team").ID
	r := e.call(req{method: http.MethodPost, path: "/v1.0/me/checkMemberGroups", tok: tok, body: map[string]any{"groupIds": []string{parent, fin, loop}}}).want(t, 200)
	var body struct {
		Value []string `json:"value"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if got := body.Value; !slices.Equal(got, []string{parent, loop}) {
		t.Errorf("bob's checkMemberGroups(Parent, Finance, Loop) = %v, want Parent and Loop", got)
	}
}
