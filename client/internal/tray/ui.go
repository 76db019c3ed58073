// Package tray is the Mapdrive tray app's user interface: the tray icon
// with its status badge and menu, the main window (account, drives,
// activity, settings), sign-in, notifications and start at login. It is
// the only package tree that imports fyne. It reaches the agent through
// the small Agent interface, which *localclient.Client implements; it
// never imports fyne.io/fyne/v2/app, so it runs headless under
// fyne.io/fyne/v2/test. Package trayapp wires it to the real app.
package tray

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Agent is what the tray asks of the agent. *localclient.Client
// implements it; tests use a fake.
type Agent interface {
	Login(ctx context.Context, deviceCode bool) (apitype.LoginResponse, error)
	WaitLogin(ctx context.Context) (apitype.Account, error)
	Logout(ctx context.Context) error
	Mount(ctx context.Context, drive, mountpoint string) (apitype.Drive, error)
	Unmount(ctx context.Context, target string) (apitype.Drive, error)
	PauseUploads(ctx context.Context) error
	ResumeUploads(ctx context.Context) error
	Pin(ctx context.Context, drive, path string) error
	Unpin(ctx context.Context, drive, path string) error
	UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error)
	WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error)
	Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error)
}

// StartAtLogin writes or removes the login entry; Autostart implements it.
type StartAtLogin interface {
	Set(on bool) error
	Enabled() (bool, error)
}

// Options configure a UI. App, Agent and Icons are required.
type Options struct {
	App   fyne.App
	Agent Agent
	Icons *Icons
	Log   *slog.Logger // nil: discard
	// Open opens a folder in the file manager or a URL in the browser
	// (OpenInFileManager when nil).
	Open func(target string) error
	// StartAtLogin manages the login entry. When nil, the setting only
	// changes the agent's record (tests, platforms without an entry).
	StartAtLogin StartAtLogin
	// Now is the clock for notification rate limits (time.Now when nil).
	Now func() time.Time
	// NoticeInterval is the per-kind notification interval
	// (DefaultNoticeInterval when 0).
	NoticeInterval time.Duration
	// Go runs an agent call off the UI goroutine (a plain goroutine when
	// nil; tests run it in place).
	Go func(func())
	// Do runs f on the UI goroutine (fyne.Do when nil). Tests whose
	// driver has no main loop pass one that serialises.
	Do func(f func())
	// CallTimeout bounds each agent call (30 s when 0). Sign-in waits are
	// bounded by the agent instead.
	CallTimeout time.Duration
	// OnQuit runs when the user picks Quit, before the app quits.
	OnQuit func()
	// MountDriver checks for the FUSE driver (WinFsp) at start, so the
	// first-run message can say it is missing before any mount fails.
	// When nil, only the agent's word counts.
	MountDriver DriverChecker
	// GOOS is the OS whose driver the first-run message names
	// (runtime.GOOS when ""; tests set it).
	GOOS string
}

// UI is the tray icon, its menu and the main window. Its methods must run
// on fyne's UI goroutine, except SetStatus and SetAgentDown, which may be
// called from any goroutine.
type UI struct {
	o        Options        // constant after construction
	log      *slog.Logger   // constant after construction
	notifier *Notifier      // constant after construction
	win      fyne.Window    // constant after construction
	view     *mainView      // constant after construction
	wg       sync.WaitGroup // agent calls in flight

	// The fields below belong to the UI goroutine.
	st         apitype.Status
	haveStatus bool
	agentErr   error  // the agent is unreachable when non-nil
	message    string // the banner: last action's outcome, sign-in guidance
	messageURL string // a page the banner offers to open
	menu       *fyne.Menu
	menuSig    string
	badge      Badge
	// localDriver is the tray's own check for the mount driver;
	// driverDialog is the first-run message while it is shown.
	localDriver  mountdriver.Presence
	driverDialog dialog.Dialog
	ctx          context.Context
	cancel       context.CancelFunc
}

// New builds the UI; the window stays hidden until ShowWindow.
func New(o Options) (*UI, error) {
	if o.App == nil || o.Agent == nil || o.Icons == nil {
		return nil, fmt.Errorf("tray: App, Agent and Icons are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Open == nil {
		o.Open = OpenInFileManager
	}
	if o.Go == nil {
		o.Go = func(f func()) { go f() }
	}
	u := &UI{badge: -1}
	run := o.Go
	o.Go = func(f func()) { // every agent call is waited for by Close
		u.wg.Add(1)
		run(func() {
			defer u.wg.Done()
			f()
		})
	}
	if o.Do == nil {
		o.Do = fyne.Do
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	u.o, u.log = o, o.Log
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.notifier = NewNotifier(func(n Notice) {
		o.App.SendNotification(fyne.NewNotification(n.Title, n.Content))
	}, o.Now, o.NoticeInterval)
	u.win = o.App.NewWindow("Mapdrive")
	u.win.SetIcon(o.Icons.App)
	u.win.SetCloseIntercept(u.win.Hide) // closing the window leaves the tray running
	u.view = newMainView(u)
	u.win.SetContent(u.view.root)
	u.win.Resize(fyne.NewSize(720, 520))
	u.refresh()
	u.checkDriver()
	return u, nil
}

// Close cancels the agent calls in flight and waits for them.
func (u *UI) Close() {
	u.cancel()
	u.wg.Wait()
}

// Window returns the main window.
func (u *UI) Window() fyne.Window { return u.win }

// ShowWindow shows and raises the main window.
func (u *UI) ShowWindow() {
	u.win.Show()
	u.win.RequestFocus()
}

// Status returns the last status applied.
func (u *UI) Status() apitype.Status { return u.st }

// Message returns the banner text (the last action's outcome or guidance).
func (u *UI) Message() string { return u.message }

// MessageURL returns the page the banner offers to open, if any.
func (u *UI) MessageURL() string { return u.messageURL }

// Badge returns the tray icon's current badge.
func (u *UI) Badge() Badge { return u.badge }

// Menu returns the current tray menu.
func (u *UI) Menu() *fyne.Menu { return u.menu }

// SetStatus applies a status from the agent. Safe from any goroutine.
func (u *UI) SetStatus(st apitype.Status) {
	u.o.Do(func() {
		if len(st.Errors) > len(u.st.Errors) {
			// A new problem outranks the outcome of an earlier action.
			u.message, u.messageURL = "", ""
		}
		u.st, u.haveStatus, u.agentErr = st, true, nil
		u.notifier.Observe(st)
		u.refresh()
		u.maybeShowDriverHelp()
	})
}

// SetAgentDown tells the UI the agent cannot be reached. Safe from any
// goroutine.
func (u *UI) SetAgentDown(err error) {
	u.o.Do(func() {
		u.agentErr = err
		u.refresh()
	})
}

// refresh redraws the tray icon, the menu and the window from u.st.
func (u *UI) refresh() {
	var b Badge
	switch {
	case u.agentErr != nil:
		b = BadgeAttention
	case !u.haveStatus:
		b = BadgeOffline // connecting
	default:
		b = BadgeFor(u.st)
	}
	dt, isDesktop := u.o.App.(desktop.App)
	if b != u.badge {
		u.badge = b
		if isDesktop {
			dt.SetSystemTrayIcon(u.o.Icons.Badge[b])
		}
	}
	m := u.buildMenu()
	if sig := menuSignature(m); sig != u.menuSig {
		// Only replace a changed menu: the system tray rebuilds it whole.
		u.menu, u.menuSig = m, sig
		if isDesktop {
			dt.SetSystemTrayMenu(m)
		}
	}
	u.view.update()
}

// summary is the line under the account: how things are.
func (u *UI) summary() string {
	switch {
	case u.agentErr != nil:
		return "The Mapdrive agent is not running"
	case !u.haveStatus:
		return "Connecting to the Mapdrive agent…"
	}
	return Summary(u.st)
}

// setMessage sets the banner and redraws.
func (u *UI) setMessage(text, link string) {
	u.message, u.messageURL = text, link
	u.view.update()
}

// call runs f against the agent off the UI goroutine, then done (if
// non-nil) with f's error back on it. Failures without a done go to the
// banner in plain words.
func (u *UI) call(what string, f func(ctx context.Context) error, done func(error)) {
	u.o.Go(func() {
		ctx, cancel := context.WithTimeout(u.ctx, u.o.CallTimeout)
		err := f(ctx)
		cancel()
		u.o.Do(func() {
			if err != nil {
				u.log.Warn("agent call failed", "op", what, "err", err)
			}
			if done != nil {
				done(err)
				return
			}
			if err != nil {
				u.setMessage(failureText(what, err), "")
			}
		})
	})
}

// failureText says that what failed, and what to do.
func failureText(what string, err error) string {
	if ae := asAgentError(err); ae != nil {
		return "Could not " + what + ": " + ProblemText(ae.Problem)
	}
	return "Could not " + what + ": " + err.Error()
}

// SignIn starts an interactive sign-in: the agent opens the system
// browser; the banner says what to do and, when the sign-in ends, how it
// went.
func (u *UI) SignIn() {
	u.setMessage("Opening the Microsoft sign-in page in your browser…", "")
	var resp apitype.LoginResponse
	u.call("sign in", func(ctx context.Context) (err error) {
		resp, err = u.o.Agent.Login(ctx, false)
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(SignInMessage(err))
			return
		}
		if resp.Account != nil {
			u.setMessage("Signed in as "+accountName(*resp.Account)+".", "")
			return
		}
		link := ""
		if resp.Prompt != nil {
			link = resp.Prompt.AuthURL
			if resp.Prompt.DeviceCode {
				link = resp.Prompt.VerificationURL
			}
		}
		u.setMessage("Finish signing in in your browser. If it did not open, use the button to open the sign-in page.", link)
		u.waitSignIn()
	})
}

// waitSignIn waits for the sign-in in progress, without the call timeout.
func (u *UI) waitSignIn() {
	u.o.Go(func() {
		acct, err := u.o.Agent.WaitLogin(u.ctx)
		u.o.Do(func() {
			if err != nil {
				u.log.Warn("sign-in failed", "err", err)
				u.setMessage(SignInMessage(err))
				return
			}
			u.setMessage("Signed in as "+accountName(acct)+".", "")
		})
	})
}

// SignOut signs out; the drives are unmounted by the agent.
func (u *UI) SignOut() {
	u.call("sign out", u.o.Agent.Logout, func(err error) {
		if err != nil {
			u.setMessage(failureText("sign out", err), "")
			return
		}
		u.setMessage("Signed out. Your drives are disconnected until you sign in again.", "")
	})
}

// SetUploadsPaused pauses or resumes the upload queues.
func (u *UI) SetUploadsPaused(paused bool) {
	if paused {
		u.call("pause uploads", u.o.Agent.PauseUploads, nil)
		return
	}
	u.call("resume uploads", u.o.Agent.ResumeUploads, nil)
}

// Mount connects drive d at its default place.
func (u *UI) Mount(d apitype.Drive, thenOpen bool) {
	var got apitype.Drive
	u.call("connect "+d.Name, func(ctx context.Context) (err error) {
		got, err = u.o.Agent.Mount(ctx, d.ID, "")
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(failureText("connect "+d.Name, err), "")
			return
		}
		u.setMessage(fmt.Sprintf("%s is connected at %s.", d.Name, got.Mountpoint), "")
		if thenOpen && got.Mountpoint != "" {
			u.open(got.Mountpoint)
		}
	})
}

// Unmount disconnects drive d.
func (u *UI) Unmount(d apitype.Drive) {
	u.call("disconnect "+d.Name, func(ctx context.Context) error {
		_, err := u.o.Agent.Unmount(ctx, d.ID)
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(failureText("disconnect "+d.Name, err), "")
			return
		}
		u.setMessage(d.Name+" is disconnected.", "")
	})
}

// OpenDrive opens a connected drive in the file manager, or connects it
// first.
func (u *UI) OpenDrive(d apitype.Drive) {
	if d.State == apitype.DriveMounted && d.Mountpoint != "" {
		u.open(d.Mountpoint)
		return
	}
	u.Mount(d, true)
}

// open opens target in the file manager or browser, reporting failure.
func (u *UI) open(target string) {
	if err := u.o.Open(target); err != nil {
		u.log.Warn("could not open", "err", err)
		u.setMessage("Could not open "+target+": "+err.Error(), "")
	}
}

// CopyLink puts a sharing link to drive d's root on the clipboard, at the
// scope the organisation's policy allows.
func (u *UI) CopyLink(d apitype.Drive) {
	var l apitype.Link
	u.call("copy a link to "+d.Name, func(ctx context.Context) (err error) {
		l, err = u.o.Agent.Link(ctx, apitype.LinkRequest{Drive: d.ID, Path: "/"})
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(failureText("copy a link to "+d.Name, err), "")
			return
		}
		u.o.App.Clipboard().SetContent(l.URL)
		u.setMessage(fmt.Sprintf("Copied a link to %s (%s).", d.Name, ScopeLabel(l.Scope)), "")
	})
}

// OpenWeb opens drive d's root in OneDrive or SharePoint on the web.
func (u *UI) OpenWeb(d apitype.Drive) {
	var l apitype.Link
	u.call("open "+d.Name+" in the browser", func(ctx context.Context) (err error) {
		l, err = u.o.Agent.WebURL(ctx, apitype.LinkRequest{Drive: d.ID, Path: "/"})
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(failureText("open "+d.Name+" in the browser", err), "")
			return
		}
		u.OpenURL(l.WebURL)
	})
}

// ScopeLabel says who a link of scope works for.
func ScopeLabel(scope string) string {
	switch scope {
	case apitype.LinkScopeAnonymous:
		return "anyone with the link"
	case apitype.LinkScopeUsers:
		return "people it is already shared with"
	}
	return "people in your organisation"
}

// OpenURL opens a web page (sign-in, admin approval) in the browser.
func (u *UI) OpenURL(link string) {
	if p, err := url.Parse(link); err != nil || (p.Scheme != "https" && p.Scheme != "http") {
		u.setMessage("Not a web address: "+link, "")
		return
	}
	u.open(link)
}

// SetCacheSize sets the cache bound in GB (0: the default).
func (u *UI) SetCacheSize(gb float64) {
	if gb < 0 {
		u.setMessage("The cache size cannot be negative.", "")
		return
	}
	u.call("change the cache size", func(ctx context.Context) error {
		_, err := u.o.Agent.UpdateSettings(ctx, apitype.SettingsUpdate{CacheMaxGB: &gb})
		return err
	}, func(err error) {
		if err != nil {
			u.setMessage(failureText("change the cache size", err), "")
			return
		}
		if gb == 0 {
			u.setMessage("The cache uses the default size now.", "")
		} else {
			u.setMessage(fmt.Sprintf("The cache may use up to %g GB now; connected drives use it after reconnecting.", gb), "")
		}
	})
}

// SetStartAtLogin writes or removes the login entry and records the
// choice with the agent.
func (u *UI) SetStartAtLogin(on bool) {
	if u.o.StartAtLogin != nil {
		if err := u.o.StartAtLogin.Set(on); err != nil {
			u.setMessage("Could not change start at login: "+err.Error(), "")
			u.view.update()
			return
		}
	}
	u.call("change start at login", func(ctx context.Context) error {
		_, err := u.o.Agent.UpdateSettings(ctx, apitype.SettingsUpdate{Autostart: &on})
		return err
	}, nil)
}

// SyncStartAtLogin makes the login entry match the agent's setting, for
// a setting changed elsewhere (the CLI, another machine's policy).
func (u *UI) SyncStartAtLogin() {
	if u.o.StartAtLogin == nil || !u.haveStatus {
		return
	}
	want := u.st.Settings.Autostart
	if have, err := u.o.StartAtLogin.Enabled(); err == nil && have != want {
		if err := u.o.StartAtLogin.Set(want); err != nil {
			u.log.Warn("could not update the login entry", "err", err)
		}
	}
}

// Pin keeps a folder of a drive offline.
func (u *UI) Pin(drive, p string) {
	p = "/" + strings.Trim(strings.TrimSpace(p), "/")
	u.call("keep "+p+" offline", func(ctx context.Context) error {
		return u.o.Agent.Pin(ctx, drive, p)
	}, nil)
}

// Unpin lets the cache evict a pinned folder again.
func (u *UI) Unpin(pin apitype.Pin) {
	u.call("stop keeping "+pin.Path+" offline", func(ctx context.Context) error {
		return u.o.Agent.Unpin(ctx, pin.Drive, pin.Path)
	}, nil)
}

// ShowConflict opens the folder holding both versions of c.
func (u *UI) ShowConflict(c apitype.Conflict) {
	dir := ConflictFolder(c, u.st.Drives)
	if dir == "" {
		u.setMessage("Connect "+driveName(u.st.Drives, c.Drive)+" to see both versions.", "")
		return
	}
	u.open(dir)
}

// Quit ends the tray app; the agent keeps running.
func (u *UI) Quit() {
	if u.o.OnQuit != nil {
		u.o.OnQuit()
	}
	u.cancel()
	u.o.App.Quit()
}

func accountName(a apitype.Account) string {
	switch {
	case a.DisplayName != "" && a.Username != "":
		return a.DisplayName + " (" + a.Username + ")"
	case a.DisplayName != "":
		return a.DisplayName
	}
	return a.Username
}
