package localapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// fakeBackend is a hand-written Backend that records calls.
type fakeBackend struct {
	mu      sync.Mutex
	calls   []string
	st      apitype.Status
	changed chan struct{}
	set     apitype.Settings
}

func newFake() *fakeBackend {
	return &fakeBackend{
		st:      apitype.Status{SignIn: apitype.SignedIn, Seq: 1, Drives: []apitype.Drive{}},
		changed: make(chan struct{}),
	}
}

func (f *fakeBackend) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeBackend) bump() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Seq++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeBackend) Status() (apitype.Status, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.changed
}

var alice = apitype.Account{Username: "alice@contoso.com", DisplayName: "Alice Anders", TenantID: "t", UserID: "u"}

var finance = apitype.Drive{ID: "m1", Name: "Finance", Kind: "sharepoint", Source: apitype.SourceAssigned, State: apitype.DriveUnmounted}

func (f *fakeBackend) Login(ctx context.Context, req apitype.LoginRequest) (apitype.LoginResponse, error) {
	f.record("login")
	if req.DeviceCode {
		return apitype.LoginResponse{Prompt: &apitype.LoginPrompt{DeviceCode: true, UserCode: "ABCD-EFGH", Message: "enter ABCD-EFGH"}}, nil
	}
	return apitype.LoginResponse{Account: &alice}, nil
}
func (f *fakeBackend) WaitLogin(ctx context.Context) (apitype.Account, error) {
	f.record("wait")
	return alice, nil
}
func (f *fakeBackend) Logout(ctx context.Context) (string, error) {
	f.record("logout")
	return "signed out", nil
}
func (f *fakeBackend) WhoAmI(ctx context.Context) (apitype.Account, error) {
	f.record("whoami")
	return alice, nil
}
func (f *fakeBackend) Drives(ctx context.Context) ([]apitype.Drive, error) {
	f.record("drives")
	return []apitype.Drive{finance}, nil
}
func (f *fakeBackend) Mount(ctx context.Context, req apitype.MountRequest) (apitype.Drive, error) {
	f.record("mount " + req.Drive + " " + req.Mountpoint)
	if req.Drive != "Finance" {
		return apitype.Drive{}, apitype.NewError(apitype.CodeUnknownDrive, "no drive named "+req.Drive, "Run `mapdrive drives`.")
	}
	d := finance
	d.State, d.Mountpoint = apitype.DriveMounted, req.Mountpoint
	return d, nil
}
func (f *fakeBackend) Unmount(ctx context.Context, target string) (apitype.Drive, error) {
	f.record("unmount " + target)
	return finance, nil
}
func (f *fakeBackend) Pin(ctx context.Context, req apitype.PinRequest, pinned bool) error {
	f.record("pin " + req.Drive + req.Path + " " + map[bool]string{true: "on", false: "off"}[pinned])
	return nil
}
func (f *fakeBackend) SetUploadsPaused(ctx context.Context, paused bool) error {
	f.record(map[bool]string{true: "pause", false: "resume"}[paused])
	return nil
}
func (f *fakeBackend) Settings(ctx context.Context) (apitype.Settings, error) {
	f.record("settings")
	return f.set, nil
}
func (f *fakeBackend) UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error) {
	f.record("update settings")
	if u.CacheMaxGB != nil {
		f.set.CacheMaxGB = *u.CacheMaxGB
	}
	return f.set, nil
}

func (f *fakeBackend) RefreshNow(ctx context.Context) (apitype.Status, error) {
	f.record("refresh")
	st, _ := f.Status()
	return st, nil
}

func (f *fakeBackend) WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	f.record("weburl " + req.Path)
	return apitype.Link{Drive: "m1", Path: "/Q1.txt", WebURL: "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Q1.txt"}, nil
}
func (f *fakeBackend) Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	f.record("link " + req.Path)
	if req.Path == "/m/f/secret.txt" {
		return apitype.Link{}, apitype.NewError(apitype.CodeLinksDisabled, "no sharing links (link scope: none)", "Ask your IT administrator.")
	}
	return apitype.Link{Drive: "m1", Path: "/Q1.txt", URL: "https://contoso.sharepoint.com/:u:/g/X", Type: "view", Scope: "organization"}, nil
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		method, path, body string
		wantStatus         int
		wantCall           string // last backend call; "" for none
		wantBody           string // substring of the answer
	}{
		{"GET", apitype.RouteStatus, "", 200, "", `"sign_in": "signed_in"`},
		{"POST", apitype.RouteLogin, `{"device_code":true}`, 200, "login", `"user_code": "ABCD-EFGH"`},
		{"POST", apitype.RouteLogin, `{}`, 200, "login", `"username": "alice@contoso.com"`},
		{"POST", apitype.RouteLogin, `{"device_code":"yes"}`, 400, "", `"code": "bad_request"`},
		{"POST", apitype.RouteLoginWait, ``, 200, "wait", `"display_name": "Alice Anders"`},
		{"POST", apitype.RouteLogout, ``, 200, "logout", `"ok": true`},
		{"GET", apitype.RouteWhoAmI, "", 200, "whoami", `"tenant_id": "t"`},
		{"GET", apitype.RouteDrives, "", 200, "drives", `"name": "Finance"`},
		{"POST", apitype.RouteMount, `{"drive":"Finance","mountpoint":"/m/f"}`, 200, "mount Finance /m/f", `"state": "mounted"`},
		{"POST", apitype.RouteMount, `{"drive":"Nope"}`, 404, "mount Nope ", `"code": "unknown_drive"`},
		{"POST", apitype.RouteMount, `{}`, 400, "", `no drive given`},
		{"POST", apitype.RouteMount, `{"drive":"x","extra":1}`, 400, "", `unknown field`},
		{"POST", apitype.RouteUnmount, `{"target":"/m/f"}`, 200, "unmount /m/f", `"id": "m1"`},
		{"POST", apitype.RouteUnmount, `{}`, 400, "", `no drive or mountpoint`},
		{"POST", apitype.RoutePause, ``, 200, "pause", `uploads paused`},
		{"POST", apitype.RouteResume, ``, 200, "resume", `uploads resumed`},
		{"POST", apitype.RoutePin, `{"drive":"Finance","path":"/Reports"}`, 200, "pin Finance/Reports on", `kept offline`},
		{"POST", apitype.RouteUnpin, `{"drive":"Finance","path":"/Reports"}`, 200, "pin Finance/Reports off", `no longer`},
		{"POST", apitype.RoutePin, `{"drive":"Finance"}`, 400, "", `needs a drive and a path`},
		{"GET", apitype.RouteSettings, "", 200, "settings", `"cache_max_gb": 0`},
		{"PUT", apitype.RouteSettings, `{"cache_max_gb":12.5}`, 200, "update settings", `"cache_max_gb": 12.5`},
		{"PUT", apitype.RouteSettings, `{"cache_max_gb":-1}`, 400, "", `cannot be negative`},
		{"GET", apitype.RouteVersion, "", 200, "", `"version"`},
		{"POST", apitype.RouteWebURL, `{"path":"/m/f/Q1.txt"}`, 200, "weburl /m/f/Q1.txt", `"webUrl": "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Q1.txt"`},
		{"POST", apitype.RouteWebURL, `{}`, 400, "", `a link needs a path`},
		{"POST", apitype.RouteLink, `{"path":"/m/f/Q1.txt"}`, 200, "link /m/f/Q1.txt", `"scope": "organization"`},
		{"POST", apitype.RouteLink, `{"path":"/m/f/secret.txt"}`, 403, "link /m/f/secret.txt", `"code": "links_disabled"`},
		{"POST", apitype.RouteRefresh, ``, 200, "refresh", `"sign_in": "signed_in"`},
		{"GET", apitype.RouteRefresh, "", 400, "", `no such local API route GET /v1/refresh`},
		{"GET", "/v1/nope", "", 400, "", `no such local API route`},
		{"DELETE", apitype.RouteStatus, "", 400, "", `no such local API route DELETE`},
	}
	f := newFake()
	h := New(f, nil)
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			f.mu.Lock()
			f.calls = nil
			f.mu.Unlock()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("%s %s = %d, want %d; body %s", tt.method, tt.path, rec.Code, tt.wantStatus, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("%s %s body = %s, want it to contain %s", tt.method, tt.path, rec.Body, tt.wantBody)
			}
			f.mu.Lock()
			var last string
			if len(f.calls) > 0 {
				last = f.calls[len(f.calls)-1]
			}
			f.mu.Unlock()
			if last != tt.wantCall {
				t.Errorf("%s %s called %q, want %q", tt.method, tt.path, last, tt.wantCall)
			}
			if rec.Code < 400 || rec.Code == 404 {
				covered[tt.method+" "+tt.path] = true
			}
		})
	}
	covered["GET "+apitype.RouteStatusWatch] = true // TestWatch
	for _, r := range h.Routes() {
		if !covered[r] {
			t.Errorf("route %s has no passing case in TestRoutes", r)
		}
	}
}

func TestBrowserRequestRefused(t *testing.T) {
	h := New(newFake(), nil)
	req := httptest.NewRequest("GET", apitype.RouteStatus, nil)
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("request with Origin = %d, want 400", rec.Code)
	}
}

func TestWatch(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(New(f, nil))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+apitype.RouteStatusWatch, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q, want application/x-ndjson", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var seqs []uint64
	for len(seqs) < 3 && sc.Scan() {
		var st apitype.Status
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, st.Seq)
		f.bump()
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, seqs); diff != "" {
		t.Errorf("watched sequence numbers (-want +got):\n%s", diff)
	}
}

func TestStatusCodes(t *testing.T) {
	tests := map[string]int{
		apitype.CodeUnknownDrive: 404, apitype.CodeMountpointBusy: 409, apitype.CodeDriveLetterInUse: 409,
		apitype.CodeSignInExpired: 401, apitype.CodeLicenceRefused: 403, apitype.CodeOffline: 503,
		apitype.CodeInternal: 500, "something new": 500,
	}
	for code, want := range tests {
		if got := StatusCode(code); got != want {
			t.Errorf("StatusCode(%q) = %d, want %d", code, got, want)
		}
	}
}
