package m365sim

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func TestAdminRefusesRemoteClients(t *testing.T) {
	s := StartForTest(t)
	tests := []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:5555", http.StatusOK},
		{"[::1]:5555", http.StatusOK},
		{"10.0.0.7:5555", http.StatusForbidden},
		{"[2001:db8::1]:5555", http.StatusForbidden},
		{"garbage", http.StatusForbidden},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/_admin/info", nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		s.admin.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET /_admin/info from %s = %d, want %d", tt.remote, rec.Code, tt.want)
		}
	}
}

func TestAdminBadRequests(t *testing.T) {
	s := StartForTest(t)
	c := h1Client(s)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/_admin/faults", `{"faults":[{"kind":"latency","latencyMs":5,"bogus":1}]}`, 400},
		{"PUT", "/_admin/faults", `{"faults":[]} trailing`, 400},
		{"PUT", "/_admin/faults", `[`, 400},
		{"POST", "/_admin/faults", `{"kind":"error","rate":"high"}`, 400},
		{"POST", "/_admin/devicecode/approve", `{"user_code":"","upn":""}`, 400},
		{"POST", "/_admin/devicecode/approve", `{"user_code":"NOPE1234","upn":"alice@contoso.com"}`, 400},
		{"POST", "/_admin/expire-delta/b!unknown", ``, 404},
		{"POST", "/_admin/revoke/contoso/mallory", ``, 404},
		{"POST", "/_admin/revoke/nowhere/alice", ``, 404},
		{"GET", "/_admin/as/contoso/mallory/me", ``, 404},
		{"GET", "/_admin/as/contoso", ``, 400},
		{"DELETE", "/_admin/info", ``, 404},
	}
	for _, tt := range tests {
		r := do(t, c, tt.method, s.BaseURL()+tt.path, "", strings.NewReader(tt.body))
		if r.status != tt.want {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.want)
			continue
		}
		if code, _ := graphError(t, r.body); code == "" {
			t.Errorf("%s %s: error body %s has no code", tt.method, tt.path, r.body)
		}
	}
}

func TestAdminOneShots(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	adm := s.Admin()
	_, alice, _ := lookupUser(s.Directory(), "contoso", "alice")
	if err := adm.ExpireDownloadURLs(ctx); err != nil {
		t.Errorf("ExpireDownloadURLs: %v", err)
	}
	if err := adm.ExpireDelta(ctx, alice.Drive.ID); err != nil {
		t.Errorf("ExpireDelta(alice's drive): %v", err)
	}
	if err := adm.Revoke(ctx, "contoso", "alice@contoso.com"); err != nil {
		t.Errorf("Revoke: %v", err)
	}
	info, err := adm.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.BaseURL != s.BaseURL() || info.CAFile != s.CAFile() || len(info.Tenants) == 0 {
		t.Errorf("info = %+v", info)
	}
	i := slices.IndexFunc(info.Tenants, func(ti TenantInfo) bool { return ti.Name == "contoso" })
	if i < 0 || info.Tenants[i].Authority != s.AuthorityURL("contoso") || info.Tenants[i].ID != directory.DemoContosoID {
		t.Fatalf("contoso in info = %+v", info.Tenants)
	}
	var policies DriveInfo
	for _, st := range info.Tenants[i].Sites {
		for _, lib := range st.Libraries {
			if st.Name == "Finance" && lib.Name == "Policies" {
				policies = lib
			}
		}
	}
	if policies.ID == "" || !policies.ReadOnly {
		t.Errorf("Finance/Policies in info = %+v", policies)
	}
	// The library id from Info works in Graph: bob, a Finance visitor, can read it.
	items, err := adm.As("contoso", "bob").List(ctx, policies.ID, "")
	if err != nil || len(items) == 0 {
		t.Errorf("bob lists Finance/Policies = %v, %v", items, err)
	}
}

func TestExpireDownloadURLs(t *testing.T) {
	s := StartForTest(t)
	c := h1Client(s)
	tok := userToken(t, s, "contoso", "alice")
	loc := uploadAndLocate(t, s, c, tok, "soon-gone.txt", []byte("content"))
	if r := do(t, c, http.MethodGet, loc, "", nil); r.status != http.StatusOK || string(r.body) != "content" {
		t.Fatalf("download = %d %q", r.status, r.body)
	}
	if err := s.Admin().ExpireDownloadURLs(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if r := do(t, c, http.MethodGet, loc, "", nil); r.status == http.StatusOK {
		t.Errorf("expired download URL still answers 200")
	}
}

func TestDownloadURLExpiredPerUser(t *testing.T) {
	s := StartForTest(t)
	c := h1Client(s)
	ctx := ctxT(t)
	alice, bob := userToken(t, s, "contoso", "alice"), userToken(t, s, "contoso", "bob")
	locA := uploadAndLocate(t, s, c, alice, "a.txt", []byte("alice's"))
	if _, err := s.Admin().As("contoso", "bob").Upload(ctx, "", "b.txt", []byte("bob's")); err != nil {
		t.Fatal(err)
	}
	locB := do(t, c, http.MethodGet, s.GraphURL()+"/"+ItemPath("", "b.txt")+"/content", bob, nil).header.Get("Location")
	if _, err := s.Admin().AddFault(ctx, Fault{Kind: FaultURLExpired, User: "alice@contoso.com"}); err != nil {
		t.Fatal(err)
	}
	r := do(t, c, http.MethodGet, locA, "", nil)
	if code, _ := graphError(t, r.body); r.status != http.StatusUnauthorized || code != "unauthenticated" {
		t.Errorf("alice's URL under the expiry fault = %d %s, want 401 unauthenticated", r.status, r.body)
	}
	if r := do(t, c, http.MethodGet, locB, "", nil); r.status != http.StatusOK || string(r.body) != "bob's" {
		t.Errorf("bob's URL = %d %q, want 200", r.status, r.body)
	}
	// The fault is about URLs: alice's Graph calls still work.
	if r := do(t, c, http.MethodGet, s.GraphURL()+"/"+ItemPath("", "a.txt")+"/content", alice, nil); r.status != http.StatusFound {
		t.Errorf("alice's /content = %d, want 302", r.status)
	}
}

func TestCountersAndReset(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	adm := s.Admin()
	c := h1Client(s)
	alice, bob := userToken(t, s, "contoso", "alice"), userToken(t, s, "contoso", "bob")
	for range 3 {
		do(t, c, http.MethodGet, s.GraphURL()+"/me", alice, nil)
	}
	do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/children", bob, nil)
	do(t, c, http.MethodGet, s.GraphURL()+"/me", "", nil)
	do(t, c, http.MethodGet, s.BaseURL()+"/contoso/v2.0/.well-known/openid-configuration", "", nil)
	// Act-as traffic is not counted.
	if _, err := adm.As("contoso", "alice").Get(ctx, "", ""); err != nil {
		t.Fatalf("act-as get root: %v", err)
	}
	cs, err := adm.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		route  RouteClass
		method string
		status int
		user   string
		want   int64
	}{
		{RouteMetadata, "GET", 200, "contoso/alice", 3},
		{"", "", 0, "contoso/alice", 3},
		{RouteChildren, "GET", 200, "contoso/bob", 1},
		{RouteMetadata, "GET", 401, AnonymousUser, 1},
		{RouteToken, "GET", 200, "", 1},
		{"", "", 0, "", 6},
	}
	for _, tt := range tests {
		if got := cs.Count(tt.route, tt.method, tt.status, tt.user); got != tt.want {
			t.Errorf("Count(%q, %q, %d, %q) = %d, want %d; counters %+v", tt.route, tt.method, tt.status, tt.user, got, tt.want, cs.Requests)
		}
	}
	if err := adm.ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	cs, _ = adm.Counters(ctx)
	if len(cs.Requests) != 0 || time.Since(cs.Since) > time.Minute {
		t.Errorf("after reset: %+v", cs)
	}
}

// TestActAsRoundTrip is how tests change a drive "remotely": alice writes
// through the admin API; her own Graph listing shows the file, bob cannot
// reach it.
func TestActAsRoundTrip(t *testing.T) {
	s := StartForTest(t)
	ctx := ctxT(t)
	as := s.Admin().As("contoso", "alice")
	item, err := as.Upload(ctx, "", "Documents/remote change.txt", []byte("written remotely"))
	if err != nil {
		t.Fatalf("act-as upload: %v", err)
	}
	if item.ID == "" || item.Name != "remote change.txt" || item.Size != int64(len("written remotely")) {
		t.Errorf("uploaded item = %+v", item)
	}
	c := h2Client(s)
	alice, bob := userToken(t, s, "contoso", "alice"), userToken(t, s, "contoso", "bob")
	r := do(t, c, http.MethodGet, s.GraphURL()+"/"+ItemPath("", "Documents")+"/children", alice, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "remote change.txt") {
		t.Errorf("alice's listing = %d %.300s, want it to name the file", r.status, r.body)
	}
	_, aliceUser, _ := lookupUser(s.Directory(), "contoso", "alice")
	r = do(t, c, http.MethodGet, s.GraphURL()+"/drives/"+aliceUser.Drive.ID+"/items/"+item.ID, bob, nil)
	if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("bob reading alice's new file = %d %.200s, want 403 or 404", r.status, r.body)
	}
	r = do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/children", bob, nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), "remote change.txt") {
		t.Errorf("bob's own drive = %d, shows alice's file: %v", r.status, strings.Contains(string(r.body), "remote change.txt"))
	}
	// Rename, list, download and delete complete the remote edits.
	if _, err := as.Move(ctx, "", "Documents/remote change.txt", "", "renamed.txt"); err != nil {
		t.Fatalf("act-as rename: %v", err)
	}
	items, err := as.List(ctx, "", "Documents")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(items, func(it Item) bool { return it.Name == "renamed.txt" }) {
		t.Errorf("listing after rename = %v", items)
	}
	if data, err := as.Download(ctx, "", "Documents/renamed.txt"); err != nil || string(data) != "written remotely" {
		t.Errorf("act-as download = %q, %v", data, err)
	}
	if err := as.Delete(ctx, "", "Documents/renamed.txt"); err != nil {
		t.Fatalf("act-as delete: %v", err)
	}
	if _, err := as.Get(ctx, "", "Documents/renamed.txt"); !IsStatus(err, http.StatusNotFound) {
		t.Errorf("get after delete: %v, want 404", err)
	}
}

// FuzzAdminFaults feeds arbitrary bodies to the fault endpoints: they must
// answer 2xx or 4xx with JSON, never panic or 5xx.
func FuzzAdminFaults(f *testing.F) {
	for _, seed := range []string{
		`{"seed":7,"faults":[{"kind":"throttle","tenant":"contoso","user":"alice","retryAfter":2,"times":1}]}`,
		`{"faults":[{"kind":"error","status":503,"rate":0.5,"routes":["download","delta"],"methods":["GET"]}]}`,
		`{"kind":"drop","afterBytes":1024,"routes":["upload"]}`,
		`{"kind":"latency","latencyMs":1}`,
		`{"faults":null}`,
		`{"kind":"error","rate":NaN}`,
		`{"kind":"quotaFull","user":"alice@contoso.com"}`,
		``,
	} {
		f.Add([]byte(seed))
	}
	dir, err := directory.New(directory.DemoSeed())
	if err != nil {
		f.Fatal(err)
	}
	g := newGate(dir, time.Now, slog.New(slog.DiscardHandler), 1)
	a := newAdmin(&admin{dir: dir, gate: g, now: time.Now, log: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range []string{http.MethodPut, http.MethodPost} {
			req := httptest.NewRequest(m, "/_admin/faults", strings.NewReader(string(body)))
			req.RemoteAddr = "127.0.0.1:1"
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("%s %q = %d %s", m, body, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %q answered non-JSON %q", m, body, rec.Body)
			}
		}
		// Whatever was accepted must not break deciding a request.
		g.faults.decide(RouteDownload, http.MethodGet, userKey{}, time.Now())
		g.faults.clear() // keep the set small
	})
}

// TestActAsWithTheSeedsOwnClient: a seed file that registers its own
// desktop app, and not the demo's (the system test's real-tenant run),
// still lets tests act as its users: act-as tokens are minted for the
// seed's public client.
func TestActAsWithTheSeedsOwnClient(t *testing.T) {
	const desktop = "0c5e2f7a-91d4-4b3e-8a6f-2d7c1e9b4a30"
	seed := &directory.Seed{
		Apps: []directory.App{{ClientID: desktop, DisplayName: "Mapdrive", PublicClient: true, RedirectURIs: []string{"http://localhost"}}},
		Tenants: []directory.Tenant{{
			ID: "6b1f0d3e-2a4c-4e8b-9f7d-5c3a1e0b2d94", Name: "tailspin", Domains: []string{"tailspintoys.com"}, UserConsentBlocked: true,
			Consents: []directory.Consent{{ClientID: desktop, Resource: directory.GraphAppID, Scopes: []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read"}}},
			Users:    []directory.User{{UserName: "alice", Drive: &directory.Drive{Name: "OneDrive"}}},
		}},
	}
	s := StartForTest(t, WithSeed(seed))
	if _, err := s.Admin().As("tailspin", "alice").Upload(ctxT(t), "", "note.txt", []byte("hi")); err != nil {
		t.Fatalf("act-as upload in a seed without the demo client: %v", err)
	}
	if _, err := s.AccessToken("tailspin", "alice"); err != nil {
		t.Fatalf("access token in a seed without the demo client: %v", err)
	}
}
