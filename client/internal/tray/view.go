package tray

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// mainView is the main window's content. Its fields belong to the UI
// goroutine. The lists (drives, activity, pins) are rebuilt on every
// update; the inputs (cache size, pin path) live across updates so typing
// is never lost.
type mainView struct {
	u    *UI
	root fyne.CanvasObject

	account    *widget.Label
	summary    *widget.Label
	signIn     *widget.Button
	signOut    *widget.Button
	pause      *widget.Button
	banner     *widget.Label
	bannerLink *widget.Button
	bannerCopy *widget.Button
	bannerMore *widget.Button
	bannerHelp *widget.Button // the first-run message again (driver missing)
	bannerX    *widget.Button
	bannerBtns *fyne.Container // the banner's visible buttons
	bannerBox  *fyne.Container

	tabs     *container.AppTabs
	drives   *fyne.Container
	activity *fyne.Container

	cacheEntry *widget.Entry
	cacheApply *widget.Button
	cacheUse   *widget.Label
	autostart  *widget.Check
	pins       *fyne.Container
	pinDrive   *widget.Select
	pinPath    *widget.Entry
	pinAdd     *widget.Button

	cacheShown float64 // the setting last shown in cacheEntry
	startShown bool    // the setting last shown in autostart
}

func newMainView(u *UI) *mainView {
	v := &mainView{u: u}
	logo := canvas.NewImageFromResource(u.o.Icons.App)
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSize(40, 40))
	v.account = widget.NewLabel("")
	v.summary = widget.NewLabel("")
	v.signIn = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), u.SignIn)
	v.signIn.Importance = widget.HighImportance
	v.signOut = widget.NewButtonWithIcon("Sign out", theme.LogoutIcon(), u.SignOut)
	v.pause = widget.NewButtonWithIcon("Pause uploads", theme.MediaPauseIcon(), func() {
		u.SetUploadsPaused(!u.st.UploadsPaused)
	})
	v.banner = widget.NewLabel("")
	v.banner.Wrapping = fyne.TextWrapWord
	v.bannerLink = widget.NewButtonWithIcon("Open page", theme.ComputerIcon(), func() { u.OpenURL(u.messageURL) })
	v.bannerCopy = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() {
		u.o.App.Clipboard().SetContent(u.messageURL)
	})
	v.bannerMore = widget.NewButtonWithIcon("Show activity", theme.HistoryIcon(), func() { v.tabs.SelectIndex(1) })
	v.bannerHelp = widget.NewButtonWithIcon(LabelDriverHelp+mountdriver.For(u.o.GOOS).Name, theme.HelpIcon(), u.ShowDriverHelp)
	v.bannerX = widget.NewButtonWithIcon("", theme.CancelIcon(), func() { u.setMessage("", "") })
	v.bannerX.Importance = widget.LowImportance
	v.bannerBtns = container.NewHBox(v.bannerX)
	v.bannerBox = container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()),
		container.NewVBox(layout.NewSpacer(), v.bannerBtns, layout.NewSpacer()), v.banner)

	v.account.TextStyle = fyne.TextStyle{Bold: true}
	head := container.NewBorder(nil, nil, logo,
		container.NewVBox(layout.NewSpacer(), container.NewHBox(v.pause, v.signIn, v.signOut), layout.NewSpacer()),
		container.New(layout.NewCustomPaddedVBoxLayout(0), v.account, v.summary))

	v.drives = container.NewVBox()
	v.activity = container.NewVBox()

	v.cacheEntry = widget.NewEntry()
	v.cacheEntry.SetPlaceHolder("0 = automatic")
	v.cacheEntry.Validator = func(s string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 0 {
			return fmt.Errorf("enter a number of gigabytes, 0 or more")
		}
		return nil
	}
	v.cacheApply = widget.NewButton("Apply", func() {
		f, err := strconv.ParseFloat(strings.TrimSpace(v.cacheEntry.Text), 64)
		if err != nil || f < 0 {
			u.setMessage("Enter the cache size as a number of gigabytes (0 lets Mapdrive choose).", "")
			return
		}
		u.SetCacheSize(f)
	})
	v.cacheUse = widget.NewLabel("")
	v.autostart = widget.NewCheck("Start Mapdrive when I log in", func(on bool) {
		if on != v.startShown {
			v.startShown = on
			u.SetStartAtLogin(on)
		}
	})
	v.pins = container.NewVBox()
	v.pinDrive = widget.NewSelect(nil, nil)
	v.pinDrive.PlaceHolder = "Drive"
	v.pinPath = widget.NewEntry()
	v.pinPath.SetPlaceHolder("/Folder/inside/the/drive")
	v.pinAdd = widget.NewButtonWithIcon("Keep offline", theme.DownloadIcon(), func() {
		d := v.pinDriveID()
		if d == "" || strings.TrimSpace(v.pinPath.Text) == "" {
			u.setMessage("Choose a drive and type the folder to keep offline.", "")
			return
		}
		u.Pin(d, v.pinPath.Text)
		v.pinPath.SetText("")
	})

	settings := container.NewVBox(
		heading("Cache"),
		wrapped("Largest size of the local copy of your files, in GB (0 lets Mapdrive choose: a tenth of the free disk, at most 20 GB)."),
		container.NewBorder(nil, nil, nil, v.cacheApply, v.cacheEntry),
		v.cacheUse,
		widget.NewSeparator(),
		heading("Start at login"),
		v.autostart,
		widget.NewSeparator(),
		heading("Kept offline"),
		wrapped("These folders stay on this computer, so they open without a network."),
		v.pins,
		container.NewBorder(nil, nil, v.pinDrive, v.pinAdd, v.pinPath),
	)

	v.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Drives", theme.StorageIcon(), container.NewVScroll(v.drives)),
		container.NewTabItemWithIcon("Activity", theme.HistoryIcon(), container.NewVScroll(v.activity)),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), container.NewVScroll(settings)),
	)
	v.root = container.NewBorder(container.NewVBox(head, v.bannerBox, widget.NewSeparator()), nil, nil, nil, v.tabs)
	return v
}

func wrapped(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func heading(s string) *widget.Label {
	return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// update redraws the view from the UI's state.
func (v *mainView) update() {
	u := v.u
	st := u.st
	ok := u.agentErr == nil && u.haveStatus

	switch {
	case ok && st.Account != nil:
		v.account.SetText(accountName(*st.Account))
	default:
		v.account.SetText("Mapdrive")
	}
	v.summary.SetText(u.summary())
	signedIn := ok && st.SignIn == apitype.SignedIn
	showIf(v.signOut, signedIn)
	showIf(v.signIn, ok && !signedIn)
	if ok && st.SignIn == apitype.SigningIn {
		v.signIn.SetText("Signing in…")
		v.signIn.Disable()
	} else {
		v.signIn.SetText("Sign in")
		v.signIn.Enable()
	}
	showIf(v.pause, signedIn)
	if st.UploadsPaused {
		v.pause.SetText("Resume uploads")
		v.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		v.pause.SetText("Pause uploads")
		v.pause.SetIcon(theme.MediaPauseIcon())
	}

	v.updateBanner()
	v.updateDrives()
	v.updateActivity()
	v.updateSettings()
}

// updateBanner shows, in order: the last action's message, a licence
// problem, the agent being down.
func (v *mainView) updateBanner() {
	u := v.u
	text, link := u.message, u.messageURL
	if u.agentErr != nil {
		text, link = "Mapdrive cannot reach its agent: "+u.agentErr.Error(), ""
	}
	more, help := false, false
	if text == "" && u.haveStatus {
		switch u.st.Licence.State {
		case apitype.LicenceRefused, apitype.LicenceExpired:
			text = u.st.Licence.Message
			if text == "" {
				text = problemHint(apitype.CodeLicenceRefused)
			}
		}
	}
	if text == "" && u.haveStatus && u.agentErr == nil && len(u.st.Errors) > 0 {
		p := u.st.Errors[len(u.st.Errors)-1] // the newest
		text, link, more = problemLine(p, u.st.Drives), p.URL, true
		if p.Code == apitype.CodeMountDriverMissing {
			// The first-run message has the download page and the words
			// on what to do; the drive's row keeps the agent's own.
			p.Action = ""
			text, link, help = problemLine(p, u.st.Drives), "", true
		}
	}
	v.banner.SetText(text)
	showIf(v.bannerBox, text != "")
	// Only the buttons that apply are laid out, so a hidden one takes no
	// room from the message.
	var btns []fyne.CanvasObject
	switch {
	case help:
		btns = append(btns, v.bannerHelp)
	case more:
		btns = append(btns, v.bannerMore)
	}
	if link != "" {
		btns = append(btns, v.bannerLink, v.bannerCopy)
	}
	if !more {
		btns = append(btns, v.bannerX)
	}
	v.bannerBtns.Objects = btns
	v.bannerBtns.Refresh()
}

func (v *mainView) updateDrives() {
	u := v.u
	var rows []fyne.CanvasObject
	if u.haveStatus && u.agentErr == nil {
		for _, d := range u.st.Drives {
			rows = append(rows, v.driveRow(d), widget.NewSeparator())
		}
	}
	if len(rows) == 0 {
		msg := "No drives yet."
		switch {
		case u.agentErr != nil || !u.haveStatus:
			msg = "Waiting for the Mapdrive agent…"
		case u.st.SignIn != apitype.SignedIn:
			msg = "Sign in to see your drives."
		}
		rows = append(rows, widget.NewLabel(msg))
	}
	v.drives.Objects = rows
	v.drives.Refresh()
}

// driveRow is one drive: name and target, where and how it is, buttons.
func (v *mainView) driveRow(d apitype.Drive) fyne.CanvasObject {
	u := v.u
	name := widget.NewLabelWithStyle(d.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	target := widget.NewLabel(TargetLabel(d))
	target.Truncation = fyne.TextTruncateEllipsis
	where := d.Mountpoint
	if where == "" {
		where = "no mount point yet"
	}
	details := widget.NewLabel(fmt.Sprintf("%s · cache %s · %s", StateLabel(d), Bytes(d.CacheBytes), where))
	details.Truncation = fyne.TextTruncateEllipsis
	var buttons []fyne.CanvasObject
	switch d.State {
	case apitype.DriveMounted:
		buttons = append(buttons,
			widget.NewButtonWithIcon("Open", theme.FolderOpenIcon(), func() { u.OpenDrive(d) }),
			widget.NewButtonWithIcon(LabelCopyLink, theme.ContentCopyIcon(), func() { u.CopyLink(d) }),
			widget.NewButtonWithIcon(LabelOpenWeb, theme.ComputerIcon(), func() { u.OpenWeb(d) }),
			widget.NewButtonWithIcon("Unmount", theme.CancelIcon(), func() { u.Unmount(d) }))
	case apitype.DriveMounting:
		b := widget.NewButton("Connecting…", nil)
		b.Disable()
		buttons = append(buttons, b)
	default:
		b := widget.NewButtonWithIcon("Mount", theme.UploadIcon(), func() { u.Mount(d, false) })
		b.Importance = widget.HighImportance
		buttons = append(buttons, b)
	}
	text := container.New(layout.NewCustomPaddedVBoxLayout(0), container.NewBorder(nil, nil, name, nil, target), details)
	if d.Error != nil {
		p := widget.NewLabel(ProblemText(*d.Error))
		p.Wrapping = fyne.TextWrapWord
		p.Importance = widget.DangerImportance
		text.Add(p)
		if d.Error.Code == apitype.CodeMountDriverMissing {
			text.Add(u.driverHelpButton())
		}
	}
	return container.NewBorder(nil, nil, widget.NewIcon(driveIcon(d)),
		container.NewVBox(container.NewHBox(buttons...), layout.NewSpacer()), text)
}

func driveIcon(d apitype.Drive) fyne.Resource {
	switch strings.ToLower(d.Kind) {
	case "team":
		return theme.AccountIcon()
	case "sharepoint":
		return theme.FolderIcon()
	}
	return theme.StorageIcon()
}

func (v *mainView) updateActivity() {
	u := v.u
	st := u.st
	var rows []fyne.CanvasObject
	rows = append(rows, heading("Transfers"))
	if len(st.Transfers) == 0 {
		rows = append(rows, widget.NewLabel("Nothing is uploading or downloading."))
	}
	for _, t := range st.Transfers {
		bar := widget.NewProgressBar()
		if f, known := Progress(t); known {
			bar.SetValue(f)
		} else {
			bar.TextFormatter = func() string { return "size not known yet" }
		}
		line := widget.NewLabel(TransferLabel(t, driveName(st.Drives, t.Drive)))
		rows = append(rows, line, bar)
		if t.LastError != "" {
			e := widget.NewLabel("Last attempt: " + t.LastError)
			e.Wrapping = fyne.TextWrapWord
			e.Importance = widget.WarningImportance
			rows = append(rows, e)
		}
	}

	rows = append(rows, widget.NewSeparator(), heading("Problems"))
	if len(st.Errors) == 0 {
		rows = append(rows, widget.NewLabel("No problems."))
	}
	for i := len(st.Errors) - 1; i >= 0; i-- { // newest first
		p := st.Errors[i]
		l := widget.NewLabel(problemLine(p, st.Drives))
		l.Wrapping = fyne.TextWrapWord
		var right fyne.CanvasObject
		if p.URL != "" {
			link := p.URL
			right = widget.NewButtonWithIcon("Open page", theme.ComputerIcon(), func() { u.OpenURL(link) })
		}
		rows = append(rows, container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), right, l))
	}

	rows = append(rows, widget.NewSeparator(), heading("Conflicts"))
	if len(st.Conflicts) == 0 {
		rows = append(rows, widget.NewLabel("No conflicts."))
	}
	for _, c := range st.Conflicts {
		c := c
		l := widget.NewLabel(fmt.Sprintf("%s in %s was changed here and online. Both were kept: %q is the online version, %q yours.",
			path.Base(c.Path), driveName(st.Drives, c.Drive), path.Base(c.Path), path.Base(c.ConflictPath)))
		l.Wrapping = fyne.TextWrapWord
		show := widget.NewButtonWithIcon("Show both files", theme.FolderOpenIcon(), func() { u.ShowConflict(c) })
		if ConflictFolder(c, st.Drives) == "" {
			show.Disable()
		}
		rows = append(rows, container.NewBorder(nil, nil, nil, show, l))
	}
	v.activity.Objects = rows
	v.activity.Refresh()
}

// problemLine is a problem with its drive's name in front.
func problemLine(p apitype.Problem, drives []apitype.Drive) string {
	s := ProblemText(p)
	if p.Drive != "" {
		s = driveName(drives, p.Drive) + ": " + s
	}
	if !p.Time.IsZero() {
		s = p.Time.Local().Format("15:04") + "  " + s
	}
	return s
}

func (v *mainView) updateSettings() {
	u := v.u
	s := u.st.Settings
	if !u.haveStatus {
		return
	}
	// Refill the cache entry only when the setting changed, so an edit in
	// progress survives status updates.
	if s.CacheMaxGB != v.cacheShown || v.cacheEntry.Text == "" {
		v.cacheShown = s.CacheMaxGB
		v.cacheEntry.SetText(strconv.FormatFloat(s.CacheMaxGB, 'f', -1, 64))
	}
	var used int64
	for _, d := range u.st.Drives {
		used += d.CacheBytes
	}
	v.cacheUse.SetText("In use now: " + Bytes(used))
	if s.Autostart != v.startShown {
		v.startShown = s.Autostart
		v.autostart.SetChecked(s.Autostart)
	}

	var rows []fyne.CanvasObject
	if len(s.Pins) == 0 {
		rows = append(rows, widget.NewLabel("No folders are kept offline."))
	}
	for _, p := range s.Pins {
		p := p
		rm := widget.NewButtonWithIcon("Stop keeping offline", theme.DeleteIcon(), func() { u.Unpin(p) })
		rows = append(rows, container.NewBorder(nil, nil, nil, rm,
			widget.NewLabel(driveName(u.st.Drives, p.Drive)+": "+p.Path)))
	}
	v.pins.Objects = rows
	v.pins.Refresh()

	var names []string
	for _, d := range u.st.Drives {
		names = append(names, d.Name)
	}
	if strings.Join(names, "\x00") != strings.Join(v.pinDrive.Options, "\x00") {
		v.pinDrive.SetOptions(names)
	}
}

// pinDriveID is the id of the drive chosen for a new pin, or "".
func (v *mainView) pinDriveID() string {
	for _, d := range v.u.st.Drives {
		if d.Name == v.pinDrive.Selected {
			return d.ID
		}
	}
	return ""
}

func showIf(o fyne.CanvasObject, show bool) {
	if show {
		o.Show()
	} else {
		o.Hide()
	}
}
