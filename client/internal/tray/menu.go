package tray

import (
	"strings"

	"fyne.io/fyne/v2"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Menu labels the tests and the real-window test look for.
const (
	LabelOpen     = "Open Mapdrive"
	LabelSignIn   = "Sign in…"
	LabelSignOut  = "Sign out"
	LabelPause    = "Pause uploads"
	LabelQuit     = "Quit"
	LabelNoDrives = "No drives yet"
	LabelCopyLink = "Copy link"
	LabelOpenWeb  = "Web"
)

// buildMenu makes the tray menu for the current state: a status line, one
// item per drive (opening it in the file manager), sign in or out, pause
// uploads, the window, and quit.
func (u *UI) buildMenu() *fyne.Menu {
	status := fyne.NewMenuItem(u.summary(), nil)
	status.Disabled = true
	items := []*fyne.MenuItem{status, fyne.NewMenuItemSeparator()}

	if u.agentErr == nil && u.haveStatus {
		if len(u.st.Drives) == 0 && u.st.SignIn == apitype.SignedIn {
			none := fyne.NewMenuItem(LabelNoDrives, nil)
			none.Disabled = true
			items = append(items, none)
		}
		for _, d := range u.st.Drives {
			d := d
			it := fyne.NewMenuItem(MenuLabel(d), func() { u.OpenDrive(d) })
			it.Disabled = d.State == apitype.DriveMounting
			items = append(items, it)
		}
		if len(u.st.Drives) > 0 || u.st.SignIn == apitype.SignedIn {
			items = append(items, fyne.NewMenuItemSeparator())
		}
		switch u.st.SignIn {
		case apitype.SignedIn:
			items = append(items, fyne.NewMenuItem(LabelSignOut, u.SignOut))
		case apitype.SigningIn:
			it := fyne.NewMenuItem("Signing in…", nil)
			it.Disabled = true
			items = append(items, it)
		default:
			items = append(items, fyne.NewMenuItem(LabelSignIn, func() {
				u.ShowWindow()
				u.SignIn()
			}))
		}
		paused := u.st.UploadsPaused
		pause := fyne.NewMenuItem(LabelPause, func() { u.SetUploadsPaused(!paused) })
		pause.Checked = paused
		items = append(items, pause)
	}

	items = append(items,
		fyne.NewMenuItem(LabelOpen, u.ShowWindow),
		fyne.NewMenuItemSeparator())
	quit := fyne.NewMenuItem(LabelQuit, u.Quit)
	quit.IsQuit = true
	items = append(items, quit)
	return fyne.NewMenu("Mapdrive", items...)
}

// menuSignature is what the system tray shows of m: labels and flags.
func menuSignature(m *fyne.Menu) string {
	var b strings.Builder
	for _, it := range m.Items {
		switch {
		case it.IsSeparator:
			b.WriteString("--")
		default:
			b.WriteString(it.Label)
			if it.Checked {
				b.WriteString("[x]")
			}
			if it.Disabled {
				b.WriteString("[-]")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// MenuItem returns the item of m whose label is label, or nil.
func MenuItem(m *fyne.Menu, label string) *fyne.MenuItem {
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
	}
	return nil
}
