package tray

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// The first-run message about a missing mount driver (WinFsp on Windows).
// The MSI installs Mapdrive without WinFsp (an Intune dependency normally
// brings it); the tray then says, once, what is missing and how to get it.

// DriverChecker says whether the OS's FUSE driver is installed, before
// any mount tries it. mountdriver.System implements it.
type DriverChecker interface {
	Check() (mountdriver.Presence, error)
}

// Labels of the first-run message's buttons and of the drive row's.
const (
	LabelDownloadPage = "Open download page"
	LabelClose        = "Close"
	// LabelDriverHelp is the drive row's button that shows the message
	// again; it names the driver: "How to install WinFsp".
	LabelDriverHelp = "How to install "
)

// driverHelpShownKey records in the tray's preferences (per user) that
// the first-run message was shown, so it is not shown on its own again.
const driverHelpShownKey = "firstrun.mountDriverHelpShown"

// checkDriver runs the tray's own check off the UI goroutine, so the
// message can appear before any drive is mounted.
func (u *UI) checkDriver() {
	if u.o.MountDriver == nil {
		return
	}
	u.o.Go(func() {
		p, err := u.o.MountDriver.Check()
		if err != nil {
			u.log.Warn("could not check for the mount driver", "err", err)
		}
		u.o.Do(func() {
			u.localDriver = p
			u.maybeShowDriverHelp()
		})
	})
}

// maybeShowDriverHelp shows the first-run message when it is due.
func (u *UI) maybeShowDriverHelp() {
	if u.driverDialog != nil {
		return
	}
	var st *apitype.Status
	if u.haveStatus && u.agentErr == nil {
		st = &u.st
	}
	prefs := u.o.App.Preferences()
	if !DriverHelpDue(st, u.localDriver, prefs.Bool(driverHelpShownKey)) {
		return
	}
	u.log.Info("the mount driver is missing: showing how to install it", "local_check", u.localDriver.String())
	prefs.SetBool(driverHelpShownKey, true)
	u.ShowDriverHelp()
}

// DriverHelpShown reports whether the first-run message is on screen.
func (u *UI) DriverHelpShown() bool { return u.driverDialog != nil }

// ShowDriverHelp shows the message about the missing mount driver over
// the main window: what is missing, how to install it, a button to the
// download page.
func (u *UI) ShowDriverHelp() {
	if u.driverDialog != nil {
		u.ShowWindow()
		return
	}
	h := DriverHelpFor(u.o.GOOS)
	body := widget.NewLabel(h.Body)
	body.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomWithoutButtons(h.Title, body, u.win)
	var buttons []fyne.CanvasObject
	if h.URL != "" {
		open := widget.NewButtonWithIcon(LabelDownloadPage, theme.DownloadIcon(), func() { u.OpenURL(h.URL) })
		open.Importance = widget.HighImportance
		buttons = append(buttons, open)
	}
	buttons = append(buttons, widget.NewButtonWithIcon(LabelClose, theme.CancelIcon(), d.Hide))
	d.SetButtons(buttons)
	d.SetOnClosed(func() { u.driverDialog = nil })
	d.Resize(fyne.NewSize(520, 300))
	u.driverDialog = d
	u.ShowWindow()
	d.Show()
}

// driverHelpButton is the drive row's way back to the message.
func (u *UI) driverHelpButton() fyne.CanvasObject {
	b := widget.NewButtonWithIcon(LabelDriverHelp+mountdriver.For(u.o.GOOS).Name, theme.HelpIcon(), u.ShowDriverHelp)
	return container.NewHBox(b, layout.NewSpacer())
}
