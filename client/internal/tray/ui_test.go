package tray

import (
	"errors"
	"image/color"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// lightTheme is fyne's default theme, always in its light variant, so
// golden images do not depend on the machine's settings.
type lightTheme struct{ fyne.Theme }

func (l lightTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return l.Theme.Color(n, theme.VariantLight)
}

// harness is a UI over a fake agent, in a headless fyne test app.
type harness struct {
	ui     *UI
	app    fyne.App
	agent  *fakeAgent
	login  *fakeLogin
	opened []string
	clock  *fakeClock
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with opts changing the UI's options first.
func newHarnessWith(t *testing.T, opts func(*Options)) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(lightTheme{theme.DefaultTheme()})
	icons, err := NewIcons()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{app: a, agent: &fakeAgent{mountPoint: "/home/alice/Mapdrive/Finance"}, login: &fakeLogin{}, clock: &fakeClock{t: t0}}
	o := Options{
		App: a, Agent: h.agent, Icons: icons,
		Open:         func(target string) error { h.opened = append(h.opened, target); return nil },
		StartAtLogin: h.login,
		Now:          h.clock.Now,
		Go:           func(f func()) { f() },
	}
	if opts != nil {
		opts(&o)
	}
	h.ui, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.ui.Close)
	return h
}

// objects returns every object under o, widgets' renderings included.
func objects(o fyne.CanvasObject) []fyne.CanvasObject {
	return test.LaidOutObjects(o)
}

// button finds the visible button labelled text in the window.
func (h *harness) button(t *testing.T, text string) *widget.Button {
	t.Helper()
	var found []*widget.Button
	for _, o := range objects(h.ui.win.Content()) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
			found = append(found, b)
		}
	}
	if len(found) == 0 {
		t.Fatalf("no visible button %q in the window", text)
	}
	return found[0]
}

// texts returns the text of every visible label in the window.
func (h *harness) texts() []string {
	var out []string
	for _, o := range objects(h.ui.win.Content()) {
		if l, ok := o.(*widget.Label); ok && l.Visible() && l.Text != "" {
			out = append(out, l.Text)
		}
	}
	return out
}

func (h *harness) hasText(sub string) bool {
	return slices.ContainsFunc(h.texts(), func(s string) bool { return strings.Contains(s, sub) })
}

func (h *harness) menuLabels() []string {
	var out []string
	for _, it := range h.ui.Menu().Items {
		if it.IsSeparator {
			out = append(out, "--")
			continue
		}
		out = append(out, it.Label)
	}
	return out
}

func (h *harness) selectTab(name string) {
	for _, it := range h.ui.view.tabs.Items {
		if it.Text == name {
			h.ui.view.tabs.Select(it)
		}
	}
}

func TestMenuFollowsStatus(t *testing.T) {
	h := newHarness(t)
	want := []string{"Connecting to the Mapdrive agent…", "--", LabelOpen, "--", LabelQuit}
	if got := h.menuLabels(); !slices.Equal(got, want) {
		t.Errorf("menu before any status = %q, want %q", got, want)
	}
	if h.ui.Badge() != BadgeOffline {
		t.Errorf("badge before any status = %v, want offline", h.ui.Badge())
	}

	h.ui.SetStatus(demoStatus())
	want = []string{"Syncing 1 file", "--",
		"OneDrive (/home/alice/Mapdrive/OneDrive) — Connected",
		"Finance — Not connected",
		"Sales (/home/alice/Mapdrive/Sales) — Connected",
		"--", LabelSignOut, LabelPause, LabelOpen, "--", LabelQuit}
	if got := h.menuLabels(); !slices.Equal(got, want) {
		t.Errorf("menu signed in = %q\nwant %q", got, want)
	}
	if h.ui.Badge() != BadgeSyncing {
		t.Errorf("badge = %v, want syncing", h.ui.Badge())
	}
	if !h.ui.Menu().Items[len(h.ui.Menu().Items)-1].IsQuit {
		t.Errorf("the last item is not marked as Quit")
	}

	// A mounted drive opens in the file manager; an unmounted one is
	// mounted first, then opened.
	MenuItem(h.ui.Menu(), want[2]).Action()
	MenuItem(h.ui.Menu(), want[3]).Action()
	wantOpened := []string{"/home/alice/Mapdrive/OneDrive", "/home/alice/Mapdrive/Finance"}
	if !slices.Equal(h.opened, wantOpened) {
		t.Errorf("opened %q, want %q", h.opened, wantOpened)
	}
	if got := h.agent.Calls(); !slices.Equal(got, []string{`Mount(m-finance,"")`}) {
		t.Errorf("agent calls = %q, want one Mount of m-finance", got)
	}

	MenuItem(h.ui.Menu(), LabelPause).Action()
	st := demoStatus()
	st.UploadsPaused = true
	h.ui.SetStatus(st)
	pause := MenuItem(h.ui.Menu(), LabelPause)
	if !pause.Checked {
		t.Errorf("Pause uploads is not checked while paused")
	}
	pause.Action()
	if got := h.agent.Calls(); !slices.Equal(got[1:], []string{"PauseUploads", "ResumeUploads"}) {
		t.Errorf("agent calls = %q, want PauseUploads then ResumeUploads", got)
	}

	st.SignIn, st.Account, st.Drives = apitype.SignedOut, nil, nil
	h.ui.SetStatus(st)
	if MenuItem(h.ui.Menu(), LabelSignIn) == nil || MenuItem(h.ui.Menu(), LabelSignOut) != nil {
		t.Errorf("signed-out menu = %q, want Sign in and no Sign out", h.menuLabels())
	}

	h.ui.SetAgentDown(errors.New("nothing answers on the socket"))
	if got := h.menuLabels()[0]; got != "The Mapdrive agent is not running" {
		t.Errorf("menu status with the agent down = %q", got)
	}
	if h.ui.Badge() != BadgeAttention {
		t.Errorf("badge with the agent down = %v, want attention", h.ui.Badge())
	}
	if !h.hasText("cannot reach its agent") {
		t.Errorf("the window does not say the agent is unreachable: %q", h.texts())
	}
}

func TestOpenMapdriveShowsWindow(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	MenuItem(h.ui.Menu(), LabelOpen).Action()
	if !h.ui.Window().Content().Visible() {
		t.Fatalf("the window content is hidden after Open Mapdrive")
	}
	for _, want := range []string{"Alice Example (alice@contoso.example)", "Syncing 1 file", "Finance", "SharePoint · Finance › Documents",
		"Connected · cache 1.5 MB · /home/alice/Mapdrive/Sales", "Teams · Sales › General"} {
		if !h.hasText(want) {
			t.Errorf("window lacks %q; it shows %q", want, h.texts())
		}
	}
}

func TestMountUnmountButtons(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	test.Tap(h.button(t, "Mount"))
	test.Tap(h.button(t, "Unmount")) // the first mounted drive: OneDrive
	want := []string{`Mount(m-finance,"")`, "Unmount(d-onedrive)"}
	if got := h.agent.Calls(); !slices.Equal(got, want) {
		t.Errorf("agent calls = %q, want %q", got, want)
	}
	if !strings.Contains(h.ui.Message(), "OneDrive is disconnected") {
		t.Errorf("message = %q, want it to say OneDrive is disconnected", h.ui.Message())
	}

	h.agent.err = apitype.NewError(apitype.CodeMountpointBusy, "the mount point /x is in use", "Close the programs using it, then try again.")
	test.Tap(h.button(t, "Mount"))
	if got := h.ui.Message(); got != "Could not connect Finance: The mount point /x is in use. Close the programs using it, then try again." {
		t.Errorf("message after a failed mount = %q", got)
	}
	if !h.hasText("Could not connect Finance") {
		t.Errorf("the banner does not show the failure: %q", h.texts())
	}
}

// TestLinkButtons: a connected drive's "Copy link" puts the link to its
// root on the clipboard and says who it works for; "Web" opens the root
// in the browser; a policy that disables links is said in plain words.
func TestLinkButtons(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	test.Tap(h.button(t, LabelCopyLink)) // the first mounted drive: OneDrive
	test.Tap(h.button(t, LabelOpenWeb))
	want := []string{"Link(d-onedrive,/)", "WebURL(d-onedrive,/)"}
	if got := h.agent.Calls(); !slices.Equal(got, want) {
		t.Errorf("agent calls = %q, want %q", got, want)
	}
	if got := h.app.Clipboard().Content(); got != "https://contoso.sharepoint.com/:f:/g/EXAMPLE" {
		t.Errorf("clipboard = %q, want the link", got)
	}
	if !slices.Equal(h.opened, []string{"https://contoso.sharepoint.com/sites/Finance/Shared%20Documents"}) {
		t.Errorf("opened %q, want the drive's web URL", h.opened)
	}
	h.agent.err = apitype.NewError(apitype.CodeLinksDisabled, "your organisation's Mapdrive policy does not allow sharing links (link scope: none)",
		"Ask your IT administrator to choose a link scope.")
	h.app.Clipboard().SetContent("")
	test.Tap(h.button(t, LabelCopyLink))
	if got := h.ui.Message(); !strings.HasPrefix(got, "Could not copy a link to OneDrive: ") || !strings.Contains(got, "link scope: none") {
		t.Errorf("message with links disabled = %q", got)
	}
	if got := h.app.Clipboard().Content(); got != "" {
		t.Errorf("clipboard after a refused link = %q, want it untouched", got)
	}
}

func TestSignIn(t *testing.T) {
	consent := apitype.NewError(apitype.CodeConsentRequired, "an administrator must approve Mapdrive for Contoso", "")
	consent.URL = "https://login.example/contoso/adminconsent?client_id=abc"
	tests := []struct {
		name      string
		resp      apitype.LoginResponse
		loginErr  error
		waitErr   error
		wantCalls []string
		wantMsg   string
		wantURL   string
	}{
		{"browser", apitype.LoginResponse{Prompt: &apitype.LoginPrompt{AuthURL: "https://login.example/authorize?x=1"}}, nil, nil,
			[]string{"Login(false)", "WaitLogin"}, "Signed in as Alice Example (alice@contoso.example).", ""},
		{"already signed in", apitype.LoginResponse{Account: &apitype.Account{Username: "bob@contoso.example"}}, nil, nil,
			[]string{"Login(false)"}, "Signed in as bob@contoso.example.", ""},
		{"admin consent", apitype.LoginResponse{Prompt: &apitype.LoginPrompt{AuthURL: "https://login.example/authorize"}}, nil, consent,
			[]string{"Login(false)", "WaitLogin"}, "Your organisation has not approved Mapdrive yet. An IT administrator must grant consent before you can sign in.", consent.URL},
		{"licence refused", apitype.LoginResponse{}, apitype.NewError(apitype.CodeLicenceRefused, "all 5 Mapdrive seats of Contoso are taken", ""), nil,
			[]string{"Login(false)"}, "You signed in, but Mapdrive could not get a licence for you: all 5 Mapdrive seats of Contoso are taken. Ask your IT administrator for a Mapdrive licence.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.agent.loginResp, h.agent.loginErr, h.agent.waitErr = tt.resp, tt.loginErr, tt.waitErr
			h.agent.waitAcct = apitype.Account{Username: "alice@contoso.example", DisplayName: "Alice Example"}
			st := demoStatus()
			st.SignIn, st.Account, st.Drives, st.Transfers = apitype.SignedOut, nil, nil, nil
			h.ui.SetStatus(st)
			test.Tap(h.button(t, "Sign in"))
			if got := h.agent.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("agent calls = %q, want %q", got, tt.wantCalls)
			}
			if h.ui.Message() != tt.wantMsg || h.ui.MessageURL() != tt.wantURL {
				t.Errorf("message = %q, %q\nwant %q, %q", h.ui.Message(), h.ui.MessageURL(), tt.wantMsg, tt.wantURL)
			}
			if tt.wantURL != "" {
				test.Tap(h.button(t, "Open page"))
				if !slices.Equal(h.opened, []string{tt.wantURL}) {
					t.Errorf("opened %q, want the approval page", h.opened)
				}
				test.Tap(h.button(t, "Copy link"))
				if got := h.app.Clipboard().Content(); got != tt.wantURL {
					t.Errorf("clipboard = %q, want the approval link", got)
				}
			}
		})
	}
}

func TestActivity(t *testing.T) {
	h := newHarness(t)
	st := demoStatus()
	st.Errors = []apitype.Problem{{Code: apitype.CodeQuotaFull, Message: "Sales is full", Drive: "d-sales"}}
	st.Conflicts = []apitype.Conflict{
		{Drive: "d-sales", Path: "/Pitch/deck.pptx", ConflictPath: "/Pitch/deck (conflict alice).pptx", Time: t0},
		{Drive: "m-finance", Path: "/budget.xlsx", ConflictPath: "/budget (conflict).xlsx", Time: t0},
	}
	h.ui.SetStatus(st)
	h.selectTab("Activity")
	for _, want := range []string{"Uploading deck.pptx in Sales (3.0 MB of 8.0 MB)",
		"Sales: Sales is full. Free some space in the drive, or ask your IT administrator for more.",
		`deck.pptx in Sales was changed here and online. Both were kept: "deck.pptx" is the online version, "deck (conflict alice).pptx" yours.`} {
		if !h.hasText(want) {
			t.Errorf("activity lacks %q; it shows %q", want, h.texts())
		}
	}
	var bars []*widget.ProgressBar
	for _, o := range objects(h.ui.win.Content()) {
		if b, ok := o.(*widget.ProgressBar); ok {
			bars = append(bars, b)
		}
	}
	if len(bars) != 1 || bars[0].Value != 0.375 {
		t.Errorf("progress bars = %d (first %v), want one at 0.375", len(bars), bars)
	}
	test.Tap(h.button(t, "Show both files"))
	if !slices.Equal(h.opened, []string{"/home/alice/Mapdrive/Sales/Pitch"}) {
		t.Errorf("Show both files opened %q, want the Pitch folder", h.opened)
	}
	// The Finance conflict's drive is not mounted: its button is disabled.
	var disabled int
	for _, o := range objects(h.ui.win.Content()) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Show both files" && b.Disabled() {
			disabled++
		}
	}
	if disabled != 1 {
		t.Errorf("%d disabled Show both files buttons, want 1", disabled)
	}
}

func TestSettings(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	h.selectTab("Settings")
	v := h.ui.view
	if v.cacheEntry.Text != "5" {
		t.Errorf("cache entry = %q, want 5", v.cacheEntry.Text)
	}
	v.cacheEntry.SetText("12.5")
	h.ui.SetStatus(demoStatus()) // a status update must not undo the edit
	if v.cacheEntry.Text != "12.5" {
		t.Errorf("a status update reset the cache entry to %q", v.cacheEntry.Text)
	}
	test.Tap(v.cacheApply)
	v.cacheEntry.SetText("lots")
	test.Tap(v.cacheApply)
	if !strings.Contains(h.ui.Message(), "number of gigabytes") {
		t.Errorf("message after a bad cache size = %q", h.ui.Message())
	}

	test.Tap(v.autostart)
	if !h.login.on {
		t.Errorf("start at login was not written")
	}

	if !h.hasText("OneDrive: /Projects") {
		t.Errorf("settings lack the pinned folder: %q", h.texts())
	}
	test.Tap(h.button(t, "Stop keeping offline"))
	v.pinDrive.SetSelected("Sales")
	v.pinPath.SetText("Pitch/")
	test.Tap(v.pinAdd)

	want := []string{"UpdateSettings(cache=12.5)", "UpdateSettings(autostart=true)", "Unpin(d-onedrive,/Projects)", "Pin(d-sales,/Pitch)"}
	if got := h.agent.Calls(); !slices.Equal(got, want) {
		t.Errorf("agent calls = %q\nwant %q", got, want)
	}

	// Failing to write the login entry leaves the agent's setting alone.
	h.login.err = errors.New("read-only home")
	test.Tap(v.autostart)
	if got := h.agent.Calls(); len(got) != len(want) {
		t.Errorf("agent called after the login entry failed: %q", got[len(want):])
	}
	if !strings.Contains(h.ui.Message(), "read-only home") {
		t.Errorf("message = %q, want the login entry failure", h.ui.Message())
	}

	// A setting changed elsewhere is mirrored into the login entry.
	h.login.err = nil
	st := demoStatus()
	st.Settings.Autostart = false
	h.login.on = true
	h.ui.SetStatus(st)
	h.ui.SyncStartAtLogin()
	if h.login.on {
		t.Errorf("SyncStartAtLogin left the login entry on while the setting is off")
	}
}

func TestNotificationsSent(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	st := demoStatus()
	st.Errors = []apitype.Problem{{Code: apitype.CodeUploadFailed, Message: "could not upload deck.pptx", Time: t0}}
	test.AssertNotificationSent(t, fyne.NewNotification("Upload failed",
		"Could not upload deck.pptx. Mapdrive keeps the file and tries again; check the network if it persists."), func() {
		h.ui.SetStatus(st)
	})
	h.clock.Advance(time.Minute)
	st.Errors = append(st.Errors, apitype.Problem{Code: apitype.CodeUploadFailed, Message: "could not upload b", Time: h.clock.t})
	test.AssertNotificationSent(t, nil, func() { h.ui.SetStatus(st) })
}

func TestNewProblemTakesTheBanner(t *testing.T) {
	h := newHarness(t)
	h.ui.SetStatus(demoStatus())
	test.Tap(h.button(t, "Unmount"))
	if !strings.Contains(h.ui.Message(), "disconnected") {
		t.Fatalf("message = %q, want the unmount outcome", h.ui.Message())
	}
	st := demoStatus()
	st.Errors = []apitype.Problem{{Code: apitype.CodeQuotaFull, Message: "the drive is full", Drive: "d-sales"}}
	h.ui.SetStatus(st)
	if h.ui.Message() != "" {
		t.Errorf("message = %q after a new problem, want it cleared", h.ui.Message())
	}
	if !h.hasText("Sales: The drive is full.") {
		t.Errorf("the banner does not show the new problem: %q", h.texts())
	}
	test.Tap(h.button(t, "Show activity"))
	if got := h.ui.view.tabs.Selected().Text; got != "Activity" {
		t.Errorf("Show activity selected tab %q", got)
	}
}
