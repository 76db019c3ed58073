package m365sim

// Conformance of the composed simulator: the statements of
// shared/reference/graph-contract.md that only hold end to end, through
// the one TLS listener, the gate and both faces together, with MSAL Go as
// the client where the contract is about what MSAL sees. The Graph and
// Entra faces test their own statements in their packages.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Contract: Entra's device-code grant, as MSAL Go runs it, yields an
// access token Graph accepts; a user approves on another device (here the
// admin API), and Graph attributes the token's requests to that user.
func TestConformanceMSALDeviceCodeThenGraph(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	app, err := public.New(directory.DemoClientID,
		public.WithAuthority(s.AuthorityURL("contoso")),
		public.WithInstanceDiscovery(false),
		public.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := app.AcquireTokenByDeviceCode(ctx, []string{"Files.ReadWrite.All", "User.Read"})
	if err != nil {
		t.Fatalf("device code: %v", err)
	}
	if err := s.Admin().ApproveDeviceCode(ctx, dc.Result.UserCode, "alice@contoso.com"); err != nil {
		t.Fatalf("approve %s: %v", dc.Result.UserCode, err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("device code result: %v", err)
	}
	if res.Account.PreferredUsername != "alice@contoso.com" {
		t.Errorf("account = %q, want alice@contoso.com", res.Account.PreferredUsername)
	}
	if err := s.Admin().ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	r := do(t, h2Client(s), http.MethodGet, s.GraphURL()+"/me", res.AccessToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /me with MSAL's token = %d %s", r.status, r.body)
	}
	var me struct {
		UserPrincipalName string `json:"userPrincipalName"`
	}
	_ = json.Unmarshal(r.body, &me)
	if !strings.EqualFold(me.UserPrincipalName, "alice@contoso.com") {
		t.Errorf("/me = %s", r.body)
	}
	cs, _ := s.Admin().Counters(ctx)
	if cs.Count(RouteMetadata, http.MethodGet, http.StatusOK, "contoso/alice") != 1 {
		t.Errorf("request not attributed to contoso/alice: %+v", cs.Requests)
	}
	// The account is cached under the simulator's host:port authority.
	accts, err := app.Accounts(ctx)
	if err != nil || len(accts) != 1 {
		t.Fatalf("cached accounts = %v, %v", accts, err)
	}
	if _, err := app.AcquireTokenSilent(ctx, []string{"Files.ReadWrite.All"}, public.WithSilentAccount(accts[0])); err != nil {
		t.Errorf("silent token from the cache: %v", err)
	}
}

// Contract: the discovery document of a tenant names issuer
// BaseURL/{tid}/v2.0 and a jwks_uri served by the same listener, whose key
// verifies the access tokens Graph accepts.
func TestConformanceDiscoveryAndKeysOnOneListener(t *testing.T) {
	s := StartForTest(t)
	c := h1Client(s)
	r := do(t, c, http.MethodGet, s.AuthorityURL("contoso")+"/v2.0/.well-known/openid-configuration", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("discovery = %d", r.status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
		Token   string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != s.BaseURL()+"/"+directory.DemoContosoID+"/v2.0" {
		t.Errorf("issuer = %s, want %s/%s/v2.0", doc.Issuer, s.BaseURL(), directory.DemoContosoID)
	}
	if !strings.HasPrefix(doc.JWKSURI, s.BaseURL()+"/") || !strings.HasPrefix(doc.Token, s.BaseURL()+"/") {
		t.Errorf("endpoints not on the listener: %s, %s", doc.JWKSURI, doc.Token)
	}
	r = do(t, c, http.MethodGet, doc.JWKSURI, "", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), s.Keys().KID()) {
		t.Errorf("JWKS = %d %s, want the signing key %s", r.status, r.body, s.Keys().KID())
	}
	claims, err := s.Keys().Verify(userToken(t, s, "contoso", "alice"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != doc.Issuer || claims["tid"] != directory.DemoContosoID || claims["ver"] != "2.0" {
		t.Errorf("token claims iss=%v tid=%v ver=%v", claims["iss"], claims["tid"], claims["ver"])
	}
}

// Contract: GET .../content answers 302 to a pre-authenticated URL that
// needs no Authorization header and honours Range with 206 and
// Content-Range.
func TestConformanceDownloadURL(t *testing.T) {
	s := StartForTest(t)
	c := h2Client(s)
	content := make([]byte, 2048)
	_, _ = rand.Read(content)
	loc := uploadAndLocate(t, s, c, userToken(t, s, "contoso", "alice"), "range.bin", content)
	if !strings.HasPrefix(loc, s.BaseURL()+"/") {
		t.Errorf("download URL %s is not on the simulator", loc)
	}
	req, _ := http.NewRequest(http.MethodGet, loc, nil)
	req.Header.Set("Range", "bytes=0-1023")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, _ = got.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != "bytes 0-1023/2048" || !bytes.Equal(got.Bytes(), content[:1024]) {
		t.Errorf("ranged download = %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), got.Len())
	}
}

// Contract: @odata.nextLink is an absolute URL that works when followed
// verbatim; the gate counts each page as a children request of the user.
func TestConformanceNextLinkVerbatim(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	as := s.Admin().As("contoso", "alice")
	if _, err := as.Mkdir(ctx, "", "", "paged"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := as.Upload(ctx, "", fmt.Sprintf("paged/f%d.txt", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tok := userToken(t, s, "contoso", "alice")
	next, seen, pages := s.GraphURL()+"/"+ItemPath("", "paged")+"/children?$top=2", 0, 0
	for next != "" {
		if !strings.HasPrefix(next, s.GraphURL()+"/") {
			t.Fatalf("nextLink %s is not an absolute Graph URL of the simulator", next)
		}
		r := do(t, h1Client(s), http.MethodGet, next, tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("page %d = %d %s", pages, r.status, r.body)
		}
		var page struct {
			Value []Item `json:"value"`
			Next  string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		seen += len(page.Value)
		pages++
		next = page.Next
	}
	if seen != 5 || pages != 3 {
		t.Errorf("listed %d items in %d pages, want 5 in 3", seen, pages)
	}
	cs, _ := s.Admin().Counters(ctx)
	if n := cs.Count(RouteChildren, http.MethodGet, http.StatusOK, "contoso/alice"); n != 3 {
		t.Errorf("children pages counted for alice = %d, want 3", n)
	}
}

// Contract: upload-session fragments go to the uploadUrl without an
// Authorization header; per-user faults still reach them, because the gate
// remembers whose session it is.
func TestConformanceUploadSessionThroughGate(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	c := h1Client(s)
	tok := userToken(t, s, "contoso", "alice")
	const frag = 327680
	data := make([]byte, frag+1000)
	_, _ = rand.Read(data)
	body := strings.NewReader(fmt.Sprintf(`{"item":{"@microsoft.graph.conflictBehavior":"replace","name":"big.bin"},"fileSize":%d}`, len(data)))
	req, _ := http.NewRequest(http.MethodPost, s.GraphURL()+"/"+ItemPath("", "big.bin")+"/createUploadSession", body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		UploadURL string `json:"uploadUrl"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(sess.UploadURL, s.BaseURL()+"/") {
		t.Fatalf("createUploadSession = %d, uploadUrl %q", resp.StatusCode, sess.UploadURL)
	}
	put := func(from, to int) result {
		req, _ := http.NewRequest(http.MethodPut, sess.UploadURL, bytes.NewReader(data[from:to]))
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, len(data)))
		resp, err := c.Do(req)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: b.Bytes()}
	}
	if r := put(0, frag); r.status != http.StatusAccepted || !strings.Contains(string(r.body), `"nextExpectedRanges"`) {
		t.Fatalf("first fragment = %d %s", r.status, r.body)
	}
	// A full quota for alice now refuses her next fragment, though it
	// carries no token.
	f, err := s.Admin().AddFault(ctx, Fault{Kind: FaultQuotaFull, User: "alice@contoso.com", Routes: []RouteClass{RouteUpload}, Times: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := put(frag, len(data)); r.status != http.StatusInsufficientStorage {
		t.Errorf("fragment under alice's full quota = %d %s, want 507", r.status, r.body)
	}
	if r := put(frag, len(data)); r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("last fragment = %d %s", r.status, r.body)
	}
	got, err := s.Admin().As("contoso", "alice").Download(ctx, "", "big.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("uploaded content: %d bytes, %v", len(got), err)
	}
	fs, _ := s.Admin().Faults(ctx)
	if fs.Faults[0].ID != f.ID || fs.Faults[0].Fired != 1 {
		t.Errorf("fault fired %d times, want 1", fs.Faults[0].Fired)
	}
	cs, _ := s.Admin().Counters(ctx)
	if n := cs.Count(RouteUpload, http.MethodPut, 0, "contoso/alice"); n != 3 {
		t.Errorf("fragments attributed to alice = %d, want 3 (%+v)", n, cs.Requests)
	}
}

// Contract: copy answers 202 with a monitor URL that needs no
// Authorization and ends "completed" with the new item's resourceId.
func TestConformanceCopyMonitor(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	as := s.Admin().As("contoso", "alice")
	src, err := as.Upload(ctx, "", "orig.txt", []byte("copy me"))
	if err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, s, "contoso", "alice")
	c := h1Client(s)
	r := do(t, c, http.MethodPost, s.GraphURL()+"/me/drive/items/"+url.PathEscape(src.ID)+"/copy", tok, strings.NewReader(`{"name":"copy.txt"}`))
	if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("Location"), s.BaseURL()+"/") {
		t.Fatalf("copy = %d Location %q %s", r.status, r.header.Get("Location"), r.body)
	}
	monitor := r.header.Get("Location")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := do(t, c, http.MethodGet, monitor, "", nil)
		var st struct {
			Status     string `json:"status"`
			ResourceID string `json:"resourceId"`
		}
		_ = json.Unmarshal(r.body, &st)
		if st.Status == "completed" {
			if st.ResourceID == "" {
				t.Errorf("completed copy without resourceId: %s", r.body)
			}
			break
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("copy monitor: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if data, err := as.Download(ctx, "", "copy.txt"); err != nil || string(data) != "copy me" {
		t.Errorf("copied file = %q, %v", data, err)
	}
	cs, _ := s.Admin().Counters(ctx)
	if n := cs.Count(RouteMetadata, http.MethodGet, http.StatusOK, "contoso/alice"); n == 0 {
		t.Errorf("monitor polls not attributed to alice: %+v", cs.Requests)
	}
}

// Contract: a stale delta token answers 410 resyncRequired; the admin API
// makes a drive's tokens stale.
func TestConformanceDeltaResyncAfterExpiry(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	tok := userToken(t, s, "contoso", "alice")
	c := h1Client(s)
	r := do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/delta?token=latest", tok, nil)
	var page struct {
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != http.StatusOK || page.DeltaLink == "" {
		t.Fatalf("delta token=latest = %d %s", r.status, r.body)
	}
	if r := do(t, c, http.MethodGet, page.DeltaLink, tok, nil); r.status != http.StatusOK {
		t.Fatalf("fresh deltaLink = %d %s", r.status, r.body)
	}
	_, alice, _ := lookupUser(s.Directory(), "contoso", "alice")
	if err := s.Admin().ExpireDelta(ctx, alice.Drive.ID); err != nil {
		t.Fatal(err)
	}
	r = do(t, c, http.MethodGet, page.DeltaLink, tok, nil)
	if r.status != http.StatusGone {
		t.Fatalf("expired deltaLink = %d %s, want 410", r.status, r.body)
	}
	if code, _ := graphError(t, r.body); code != "resyncRequired" {
		t.Errorf("code = %s, want resyncRequired", code)
	}
	if !strings.Contains(string(r.body), `"resyncChangesApplyDifferences"`) {
		t.Errorf("expired deltaLink body %s, want the inner code resyncChangesApplyDifferences by default", r.body)
	}

	// Contract (graph-contract.md, Delta): the 410's inner code is either
	// resyncChangesApplyDifferences or resyncChangesUploadDifferences; the
	// admin API picks which, and refuses any other.
	r = do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/delta?token=latest", tok, nil)
	if err := json.Unmarshal(r.body, &page); err != nil || page.DeltaLink == "" {
		t.Fatalf("delta token=latest = %d %s", r.status, r.body)
	}
	if err := s.Admin().ExpireDeltaWith(ctx, alice.Drive.ID, "resyncChangesUploadDifferences"); err != nil {
		t.Fatal(err)
	}
	r = do(t, c, http.MethodGet, page.DeltaLink, tok, nil)
	if code, _ := graphError(t, r.body); r.status != http.StatusGone || code != "resyncRequired" ||
		!strings.Contains(string(r.body), `"resyncChangesUploadDifferences"`) {
		t.Errorf("expired deltaLink = %d %s, want 410 resyncRequired / resyncChangesUploadDifferences", r.status, r.body)
	}
	if err := s.Admin().ExpireDeltaWith(ctx, alice.Drive.ID, "resyncSomethingElse"); err == nil {
		t.Error("the admin API took an unknown inner code")
	}
}

// Contract: an expired access token gets 401 with a WWW-Authenticate
// challenge naming expired_token, so clients refresh; the simulator's clock
// drives expiry.
// Contract: tokens for the Mapdrive service's API carry that API's
// audience, not Graph's, and Graph refuses them.
func TestConformanceServiceAudienceToken(t *testing.T) {
	s := StartForTest(t)
	tok, err := s.AccessToken("contoso", "alice@contoso.com", directory.DemoServiceAppURI+"/"+directory.DemoServiceScope)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.Keys().Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != directory.DemoServiceAppID || claims["scp"] != directory.DemoServiceScope {
		t.Errorf("service token aud=%v scp=%v, want %s and %s", claims["aud"], claims["scp"], directory.DemoServiceAppID, directory.DemoServiceScope)
	}
	if r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me", tok, nil); r.status != http.StatusUnauthorized {
		t.Errorf("Graph with a service-audience token = %d, want 401", r.status)
	}
	if _, err := s.AccessToken("contoso", "mallory"); err == nil {
		t.Error("AccessToken for an unknown user succeeded")
	}
}

func TestConformanceExpiredTokenChallenge(t *testing.T) {
	clock := newFakeClock()
	s := StartForTest(t, WithNow(clock.Now))
	tok := userToken(t, s, "contoso", "alice")
	clock.Advance(2 * time.Hour)
	r := do(t, h1Client(s), http.MethodGet, s.GraphURL()+"/me", tok, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "expired_token") {
		t.Errorf("expired token = %d WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

// Contract: $batch goes through the gate as one batch request and
// answers each inner request.
func TestConformanceBatch(t *testing.T) {
	s := StartForTest(t)
	tok := userToken(t, s, "contoso", "alice")
	body := `{"requests":[{"id":"1","method":"GET","url":"/me"},{"id":"2","method":"GET","url":"/me/drive/root/children"}]}`
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.GraphURL()+"/$batch", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h2Client(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Responses []struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		} `json:"responses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Responses) != 2 {
		t.Fatalf("batch = %d %+v %v", resp.StatusCode, out, err)
	}
	for _, r := range out.Responses {
		if r.Status != http.StatusOK {
			t.Errorf("inner request %s = %d", r.ID, r.Status)
		}
	}
	cs, _ := s.Admin().Counters(ctxT(t))
	if cs.Count(RouteBatch, http.MethodPost, http.StatusOK, "contoso/alice") != 1 {
		t.Errorf("batch not counted once for alice: %+v", cs.Requests)
	}
}

// Contract: a signed-in user who names a site or library of their own
// tenant that they are neither a member nor a visitor of gets 403
// accessDenied, not 404: "403 Forbidden: Access is denied to the requested
// resource. The user might not have enough permission" (OneDrive API,
// "Error responses", misc/errors.md); observed for GET /sites/{site-id}
// and /sites/{site-id}/drives (SharePoint/sp-dev-docs#8858) and for Team
// sites a user is not a member of (microsoftgraph/microsoft-graph-docs#10003).
// A site that does not exist, or one of another tenant's host, is 404
// itemNotFound ("The requested resource doesn't exist"). The admin API
// grants and takes away site access at runtime, effective for the next
// request of every kind (site lookup, drive, listing, delta, /content,
// upload), and the change survives a restart.
func TestConformanceSiteAccessChangesAtOnce(t *testing.T) {
	dir := t.TempDir()
	s := StartForTest(t, WithDataDir(dir))
	ctx := ctxT(t)
	c := h2Client(s)
	g := s.GraphURL()
	tok := userToken(t, s, "contoso", "admin") // in no role on Marketing
	var lib string
	for _, st := range s.Info().Tenants[0].Sites {
		if st.Name == "Marketing" {
			lib = st.Libraries[0].ID
		}
	}
	if lib == "" {
		t.Fatal("no Marketing library in the demo seed")
	}
	reads := []struct{ name, url string }{
		{"site by path", g + "/sites/contoso.sharepoint.com:/sites/Marketing"},
		{"site's drives", g + "/sites/contoso.sharepoint.com:/sites/Marketing:/drives"},
		{"drive", g + "/drives/" + lib},
		{"root children", g + "/drives/" + lib + "/root/children"},
		{"delta", g + "/drives/" + lib + "/root/delta"},
		{"content", g + "/drives/" + lib + "/root:/General/Campaign.txt:/content"},
	}
	// status of each read, and of a write, as admin now.
	check := func(when string, read, write int) {
		t.Helper()
		for _, rd := range reads {
			r := do(t, c, http.MethodGet, rd.url, tok, nil)
			want := read
			if want == http.StatusOK && rd.name == "content" {
				want = http.StatusFound
			}
			if r.status != want {
				t.Errorf("%s: GET %s = %d %.200s, want %d", when, rd.name, r.status, r.body, want)
				continue
			}
			if want == http.StatusForbidden {
				if code, _ := graphError(t, r.body); code != "accessDenied" {
					t.Errorf("%s: GET %s code = %q, want accessDenied", when, rd.name, code)
				}
			}
		}
		r := do(t, c, http.MethodPut, g+"/drives/"+lib+"/root:/by-admin.txt:/content", tok, strings.NewReader("x"))
		if got := r.status; got != write && !(write == http.StatusOK && got == http.StatusCreated) {
			t.Errorf("%s: upload = %d %.200s, want %d", when, got, r.body, write)
		}
		r = do(t, c, http.MethodGet, g+"/sites?search=Marketing", tok, nil)
		if listed := strings.Contains(string(r.body), `"name":"Marketing"`); r.status != http.StatusOK || listed != (read == http.StatusOK) {
			t.Errorf("%s: site search = %d %.200s; want Marketing listed: %v", when, r.status, r.body, read == http.StatusOK)
		}
	}
	// Not found is not forbidden: another tenant's host and a missing site.
	for _, u := range []string{g + "/sites/fabrikam.sharepoint.com:/sites/Sales", g + "/sites/contoso.sharepoint.com:/sites/NoSuchSite"} {
		r := do(t, c, http.MethodGet, u, tok, nil)
		if code, _ := graphError(t, r.body); r.status != http.StatusNotFound || code != "itemNotFound" {
			t.Errorf("GET %s = %d %s, want 404 itemNotFound", u, r.status, code)
		}
	}
	check("in no role", http.StatusForbidden, http.StatusForbidden)

	a := s.Admin()
	if err := a.SetSiteRole(ctx, "contoso", "Marketing", "admin", SiteVisitor); err != nil {
		t.Fatal(err)
	}
	check("a visitor", http.StatusOK, http.StatusForbidden)
	if err := a.SetSiteRole(ctx, "contoso", "Marketing", "admin", SiteMember); err != nil {
		t.Fatal(err)
	}
	check("a member", http.StatusOK, http.StatusOK)
	// A delta link handed out while admin could read is refused after.
	r := do(t, c, http.MethodGet, g+"/drives/"+lib+"/root/delta?token=latest", tok, nil)
	var page struct {
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.DeltaLink == "" {
		t.Fatalf("delta ?token=latest = %d %s", r.status, r.body)
	}
	if err := a.RemoveFromSite(ctx, "contoso", "Marketing", "admin"); err != nil {
		t.Fatal(err)
	}
	check("taken out", http.StatusForbidden, http.StatusForbidden)
	if r := do(t, c, http.MethodGet, page.DeltaLink, tok, nil); r.status != http.StatusForbidden {
		t.Errorf("delta link after the user was taken out = %d, want 403", r.status)
	}
	// Others keep their access.
	if r := do(t, c, http.MethodGet, reads[3].url, userToken(t, s, "contoso", "bob"), nil); r.status != http.StatusOK {
		t.Errorf("bob, a member, listing Marketing = %d", r.status)
	}

	// The admin API's refusals.
	for _, tc := range []struct {
		site, user, role string
		want             int
	}{
		{"NoSuchSite", "admin", SiteMember, http.StatusNotFound},
		{"Marketing", "nobody", SiteMember, http.StatusNotFound},
		{"Marketing", "admin", "owner", http.StatusBadRequest},
	} {
		err := a.SetSiteRole(ctx, "contoso", tc.site, tc.user, tc.role)
		if !IsStatus(err, tc.want) {
			t.Errorf("SetSiteRole(%s, %s, %s) = %v, want %d", tc.site, tc.user, tc.role, err, tc.want)
		}
	}

	// The change is stored with the directory: a restart keeps it.
	if err := a.SetSiteRole(ctx, "contoso", "Marketing", "admin", SiteVisitor); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := StartForTest(t, WithDataDir(dir))
	c2 := h2Client(s2)
	if r := do(t, c2, http.MethodGet, s2.GraphURL()+"/drives/"+lib+"/root/children", userToken(t, s2, "contoso", "admin"), nil); r.status != http.StatusOK {
		t.Errorf("after a restart, the visitor listing Marketing = %d %.200s, want 200", r.status, r.body)
	}
}
