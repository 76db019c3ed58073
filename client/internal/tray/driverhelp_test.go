package tray

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// driverMissingStatus is demoStatus after Finance failed to mount for
// want of WinFsp, as the agent reports it.
func driverMissingStatus() apitype.Status {
	st := demoStatus()
	st.Drives = st.Drives[1:2] // Finance only: nothing mounted yet
	st.Transfers = nil
	p := apitype.Problem{Code: apitype.CodeMountDriverMissing, Message: "WinFsp is not installed: cannot mount Finance",
		Action: "Install it from https://winfsp.dev/rel/ (or ask your IT administrator to deploy it), then mount the drive again.",
		URL:    mountdriver.WinFspURL, Drive: "m-finance", Time: t0}
	st.Drives[0].State, st.Drives[0].Mountpoint, st.Drives[0].Error = apitype.DriveError, "F:", &p
	st.Errors = []apitype.Problem{p}
	return st
}

func TestDriverHelpDue(t *testing.T) {
	missing := driverMissingStatus()
	inErrorsOnly := driverMissingStatus()
	inErrorsOnly.Drives[0].Error, inErrorsOnly.Drives[0].State = nil, apitype.DriveUnmounted
	fine := demoStatus() // two drives mounted
	noneMounted := demoStatus()
	for i := range noneMounted.Drives {
		noneMounted.Drives[i].State = apitype.DriveUnmounted
	}
	otherProblem := demoStatus()
	otherProblem.Errors = []apitype.Problem{{Code: apitype.CodeMountFailed, Message: "the mountpoint is busy"}}
	tests := []struct {
		name  string
		st    *apitype.Status
		local mountdriver.Presence
		shown bool
		want  bool
	}{
		{"no status, check says missing", nil, mountdriver.Missing, false, true},
		{"no status, check says installed", nil, mountdriver.Installed, false, false},
		{"no status, check cannot tell", nil, mountdriver.Unknown, false, false},
		{"agent: a drive's mount found no driver", &missing, mountdriver.Unknown, false, true},
		{"agent's word beats the check", &missing, mountdriver.Installed, false, true},
		{"agent: in the problems only", &inErrorsOnly, mountdriver.Unknown, false, true},
		{"nothing mounted yet, check says missing", &noneMounted, mountdriver.Missing, false, true},
		{"drives mounted: the driver works", &fine, mountdriver.Missing, false, false},
		{"another mount problem", &otherProblem, mountdriver.Unknown, false, false},
		{"shown before: not again on its own", &missing, mountdriver.Missing, true, false},
		{"shown before, no status", nil, mountdriver.Missing, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DriverHelpDue(tt.st, tt.local, tt.shown); got != tt.want {
				t.Errorf("DriverHelpDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDriverHelpText(t *testing.T) {
	win := DriverHelpFor("windows")
	for _, want := range []string{"cannot mount your drives, because WinFsp is not installed", "https://winfsp.dev/rel/", "ask your IT administrator"} {
		if !strings.Contains(win.Body, want) {
			t.Errorf("Windows message %q lacks %q", win.Body, want)
		}
	}
	if win.Title != "WinFsp is not installed" || win.URL != mountdriver.WinFspURL {
		t.Errorf("Windows message = %+v", win)
	}
	lin := DriverHelpFor("linux")
	pkgs := mountdriver.For("linux").Packages
	if !strings.Contains(lin.Body, "FUSE is not available") || !strings.Contains(lin.Body, "sudo apt install "+pkgs) || lin.URL != "" {
		t.Errorf("Linux message = %+v, want FUSE and the command that installs %s, without a download page", lin, pkgs)
	}
}

// fakeDriver is the tray's own driver check.
type fakeDriver struct {
	p   mountdriver.Presence
	err error
}

func (f fakeDriver) Check() (mountdriver.Presence, error) { return f.p, f.err }

// dialogButton finds a visible button labelled text in the window's
// overlays (dialogs).
func (h *harness) dialogButton(t *testing.T, text string) *widget.Button {
	t.Helper()
	for _, ov := range h.ui.win.Canvas().Overlays().List() {
		for _, o := range test.LaidOutObjects(ov) {
			if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
				return b
			}
		}
	}
	t.Fatalf("no button %q in a dialog", text)
	return nil
}

func (h *harness) dialogTexts() []string {
	var out []string
	for _, ov := range h.ui.win.Canvas().Overlays().List() {
		for _, o := range test.LaidOutObjects(ov) {
			if l, ok := o.(*widget.Label); ok && l.Visible() && l.Text != "" {
				out = append(out, l.Text)
			}
		}
	}
	return out
}

func TestDriverHelpFirstRunFromLocalCheck(t *testing.T) {
	h := newHarnessWith(t, func(o *Options) {
		o.GOOS, o.MountDriver = "windows", fakeDriver{p: mountdriver.Missing}
	})
	// Before the agent says anything, the tray's own check found no WinFsp.
	if !h.ui.DriverHelpShown() {
		t.Fatalf("no first-run message with WinFsp missing")
	}
	if !h.ui.Window().Content().Visible() {
		t.Errorf("the window is hidden under the first-run message")
	}
	texts := strings.Join(h.dialogTexts(), "\n")
	for _, want := range []string{"WinFsp is not installed", "https://winfsp.dev/rel/", "ask your IT administrator"} {
		if !strings.Contains(texts, want) {
			t.Errorf("the message lacks %q; it says %q", want, texts)
		}
	}
	test.Tap(h.dialogButton(t, LabelDownloadPage))
	if !slices.Equal(h.opened, []string{mountdriver.WinFspURL}) {
		t.Errorf("opened %q, want the download page", h.opened)
	}
	test.Tap(h.dialogButton(t, LabelClose))
	if h.ui.DriverHelpShown() {
		t.Fatalf("the message stays after Close")
	}
	if !h.app.Preferences().Bool(driverHelpShownKey) {
		t.Errorf("the tray did not remember it showed the message")
	}

	// The agent then fails to mount Finance: shown once, so not again on
	// its own; the drive row says it and offers the message again.
	h.ui.SetStatus(driverMissingStatus())
	if h.ui.DriverHelpShown() {
		t.Errorf("the message came back on its own")
	}
	if !h.hasText("WinFsp is not installed: cannot mount Finance") {
		t.Errorf("the drive row does not show the problem: %q", h.texts())
	}
	test.Tap(h.button(t, LabelDriverHelp+"WinFsp"))
	if !h.ui.DriverHelpShown() {
		t.Errorf("the drive's button did not show the message again")
	}
}

func TestDriverHelpFromAgent(t *testing.T) {
	// The local check cannot tell (or is wrong): the agent's failed
	// mount brings the message.
	h := newHarnessWith(t, func(o *Options) {
		o.GOOS, o.MountDriver = "windows", fakeDriver{p: mountdriver.Unknown, err: errors.New("registry unreadable")}
	})
	if h.ui.DriverHelpShown() {
		t.Fatalf("message shown with nothing missing")
	}
	h.ui.SetStatus(demoStatus())
	if h.ui.DriverHelpShown() {
		t.Fatalf("message shown while drives are mounted")
	}
	h.ui.SetStatus(driverMissingStatus())
	if !h.ui.DriverHelpShown() {
		t.Fatalf("no message after the agent said WinFsp is missing")
	}
	if !h.app.Preferences().Bool(driverHelpShownKey) {
		t.Errorf("the tray did not remember it showed the message")
	}
}

func TestDriverHelpOncePerUser(t *testing.T) {
	// A later start of the tray, for a user who saw the message: the
	// preference (per user, fyne's app preferences) keeps it away.
	h := newHarnessWith(t, func(o *Options) {
		o.App.Preferences().SetBool(driverHelpShownKey, true)
		o.GOOS, o.MountDriver = "windows", fakeDriver{p: mountdriver.Missing}
	})
	h.ui.SetStatus(driverMissingStatus())
	if h.ui.DriverHelpShown() {
		t.Errorf("the message was shown again at a later start")
	}
}

func TestDriverHelpLinux(t *testing.T) {
	h := newHarnessWith(t, func(o *Options) {
		o.GOOS, o.MountDriver = "linux", fakeDriver{p: mountdriver.Missing}
	})
	if !h.ui.DriverHelpShown() {
		t.Fatalf("no first-run message with libfuse missing")
	}
	if texts := strings.Join(h.dialogTexts(), "\n"); !strings.Contains(texts, "libfuse") {
		t.Errorf("the message %q does not say to install libfuse", texts)
	}
	for _, ov := range h.ui.win.Canvas().Overlays().List() {
		for _, o := range test.LaidOutObjects(ov) {
			if b, ok := o.(*widget.Button); ok && b.Text == LabelDownloadPage {
				t.Errorf("a download page button without a download page")
			}
		}
	}
}
