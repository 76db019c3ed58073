package tray

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// fakeAgent records the calls the UI makes and answers from its fields.
type fakeAgent struct {
	mu    sync.Mutex
	calls []string

	loginResp  apitype.LoginResponse
	loginErr   error
	waitAcct   apitype.Account
	waitErr    error
	mountPoint string // what Mount answers
	err        error  // answer of every other call
}

func (f *fakeAgent) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeAgent) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeAgent) Login(ctx context.Context, deviceCode bool) (apitype.LoginResponse, error) {
	f.record("Login(%v)", deviceCode)
	return f.loginResp, f.loginErr
}

func (f *fakeAgent) WaitLogin(ctx context.Context) (apitype.Account, error) {
	f.record("WaitLogin")
	return f.waitAcct, f.waitErr
}

func (f *fakeAgent) Logout(ctx context.Context) error {
	f.record("Logout")
	return f.err
}

func (f *fakeAgent) Mount(ctx context.Context, drive, mountpoint string) (apitype.Drive, error) {
	f.record("Mount(%s,%q)", drive, mountpoint)
	return apitype.Drive{ID: drive, State: apitype.DriveMounted, Mountpoint: f.mountPoint}, f.err
}

func (f *fakeAgent) WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	f.record("WebURL(%s,%s)", req.Drive, req.Path)
	return apitype.Link{Drive: req.Drive, Path: req.Path, WebURL: "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents"}, f.err
}

func (f *fakeAgent) Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	f.record("Link(%s,%s)", req.Drive, req.Path)
	return apitype.Link{Drive: req.Drive, Path: req.Path, URL: "https://contoso.sharepoint.com/:f:/g/EXAMPLE", Type: "view", Scope: apitype.LinkScopeOrganization}, f.err
}

func (f *fakeAgent) Unmount(ctx context.Context, target string) (apitype.Drive, error) {
	f.record("Unmount(%s)", target)
	return apitype.Drive{ID: target, State: apitype.DriveUnmounted}, f.err
}

func (f *fakeAgent) PauseUploads(ctx context.Context) error {
	f.record("PauseUploads")
	return f.err
}

func (f *fakeAgent) ResumeUploads(ctx context.Context) error {
	f.record("ResumeUploads")
	return f.err
}

func (f *fakeAgent) Pin(ctx context.Context, drive, path string) error {
	f.record("Pin(%s,%s)", drive, path)
	return f.err
}

func (f *fakeAgent) Unpin(ctx context.Context, drive, path string) error {
	f.record("Unpin(%s,%s)", drive, path)
	return f.err
}

func (f *fakeAgent) UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error) {
	switch {
	case u.CacheMaxGB != nil:
		f.record("UpdateSettings(cache=%g)", *u.CacheMaxGB)
	case u.Autostart != nil:
		f.record("UpdateSettings(autostart=%v)", *u.Autostart)
	default:
		f.record("UpdateSettings()")
	}
	return apitype.Settings{}, f.err
}

// fakeLogin records the login entry's state.
type fakeLogin struct {
	on  bool
	err error
}

func (l *fakeLogin) Set(on bool) error {
	if l.err != nil {
		return l.err
	}
	l.on = on
	return nil
}

func (l *fakeLogin) Enabled() (bool, error) { return l.on, nil }

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// The fixed time the fixtures use.
var t0 = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// demoStatus is alice signed in with three drives: her OneDrive mounted,
// Finance (SharePoint) unmounted, Sales (a Team) mounted with an upload in
// progress.
func demoStatus() apitype.Status {
	return apitype.Status{
		AgentVersion: "0.1.0",
		SignIn:       apitype.SignedIn,
		Account:      &apitype.Account{Username: "alice@contoso.example", DisplayName: "Alice Example", TenantID: "t1"},
		Licence:      apitype.Licence{State: apitype.LicenceValid},
		Online:       true,
		Drives: []apitype.Drive{
			{ID: "d-onedrive", Name: "OneDrive", Kind: "onedrive", Target: "OneDrive", Source: apitype.SourceDiscovered,
				State: apitype.DriveMounted, Mountpoint: "/home/alice/Mapdrive/OneDrive", CacheBytes: 3 << 20},
			{ID: "m-finance", Name: "Finance", Kind: "sharepoint", Target: "Finance › Documents", Source: apitype.SourceAssigned,
				State: apitype.DriveUnmounted, Mountpoint: "/home/alice/Mapdrive/Finance"},
			{ID: "d-sales", Name: "Sales", Kind: "team", Target: "Sales › General", Source: apitype.SourceDiscovered,
				State: apitype.DriveMounted, Mountpoint: "/home/alice/Mapdrive/Sales", CacheBytes: 1536 << 10},
		},
		Transfers: []apitype.Transfer{
			{ID: "t1", Drive: "d-sales", Path: "/Pitch/deck.pptx", Direction: apitype.Upload, Done: 3 << 20, Total: 8 << 20, State: "active"},
		},
		Settings: apitype.Settings{CacheMaxGB: 5, MountRoot: "/home/alice/Mapdrive",
			Pins: []apitype.Pin{{Drive: "d-onedrive", Path: "/Projects"}}},
		Updated: t0,
		Seq:     7,
	}
}
