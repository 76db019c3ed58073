//go:build linux

package trayapp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"golang.org/x/sys/unix"

	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/tray"
	"github.com/mapdrive/mapdrive/client/internal/tray/sniwatch"
	"github.com/mapdrive/mapdrive/client/internal/tray/trayapp"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/testbin"
)

// The real-window test runs twice: the parent checks the tools, builds
// the binaries and re-runs the test binary under dbus-run-session with a
// throwaway HOME and an unlocked gnome-keyring (the agent keeps its tokens
// there); the child does the work.
const (
	childEnv = "MAPDRIVE_TEST_TRAY_E2E_CHILD"
	binEnv   = "MAPDRIVE_TEST_TRAY_E2E_BIN"
	artEnv   = "MAPDRIVE_TEST_TRAY_E2E_ARTIFACTS"
)

// TestRealWindow runs mapdrive-tray under Xvfb against a real agent
// (started by the tray) signed in to m365sim: it reads the tray menu
// through a StatusNotifierWatcher stand-in on a private session bus,
// clicks "Open Mapdrive", and checks a screenshot of the window that
// appears shows the drives. The screenshot goes to artifacts/.
func TestRealWindow(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		realWindow(t)
		return
	}
	if testing.Short() {
		t.Skip("builds both binaries and runs them under Xvfb; not in -short")
	}
	for _, bin := range []string{"Xvfb", "dbus-run-session", "gnome-keyring-daemon", "import", "xwininfo"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (run make deps): the tray's real-window test must run in CI", bin)
			}
			t.Skipf("%s not installed (Debian packages xvfb, dbus, gnome-keyring, imagemagick, x11-utils; make deps installs them)", bin)
		}
	}
	root := repoRoot(t)
	// Both binaries come prebuilt from make test (shared/testbin), in one
	// folder, which the child is told.
	var bins testbin.Finder
	defer bins.Close()
	var bin string
	for _, name := range []string{"mapdrive", "mapdrive-tray"} {
		p, err := bins.Path(name)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Dir(p)
	}
	art := filepath.Join(root, "artifacts")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	script := `printf mapdrive-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97; exec "$0" "$@"`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script,
		os.Args[0], "-test.run=^TestRealWindow$", "-test.v", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), childEnv+"=1", binEnv+"="+bin, artEnv+"="+art,
		"HOME="+home, "XDG_DATA_HOME="+home+"/data", "XDG_RUNTIME_DIR="+home,
		"XDG_CONFIG_HOME="+home+"/config", "XDG_CACHE_HOME="+home+"/cache")
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(art, "tray-e2e.log"), out, 0o644)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestRealWindow")) {
		t.Fatalf("real-window test under dbus-run-session failed: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", lastLines(out, 25))
}

func realWindow(t *testing.T) {
	bin, art := os.Getenv(binEnv), os.Getenv(artEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	display := startXvfb(t)
	watcher, err := sniwatch.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	notes, err := sniwatch.StartNotifications()
	if err != nil {
		t.Fatal(err)
	}
	defer notes.Close()

	sim := m365sim.StartForTest(t)
	home := os.Getenv("HOME")
	t.Cleanup(func() { // keep the tray-started agent's log with the artifacts
		if data, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "mapdrive", "agent.log")); err == nil {
			os.WriteFile(filepath.Join(art, "tray-e2e-agent.log"), data, 0o644)
		}
	})
	sock := filepath.Join(home, "agent.sock")
	env := append(os.Environ(),
		"DISPLAY="+display,
		"FYNE_THEME=light", "FYNE_SCALE=1", "LANG=en_GB.UTF-8",
		"MAPDRIVE_CLIENT_ID="+directory.DemoClientID,
		"MAPDRIVE_AUTHORITY="+sim.AuthorityURL("contoso"),
		"MAPDRIVE_GRAPH_URL="+sim.GraphURL(),
		"MAPDRIVE_CA_FILE="+sim.CAFile(),
		"MAPDRIVE_STATE_DIR="+filepath.Join(home, "state"),
		"MAPDRIVE_CACHE_DIR="+filepath.Join(home, "cache"),
		"MAPDRIVE_MOUNT_ROOT="+filepath.Join(home, "Mapdrive"),
		"MAPDRIVE_LOG_LEVEL=debug",
		"BROWSER=true", // the agent must not reach for a real browser
	)

	// The tray starts the agent itself: nothing answers on the socket yet.
	trayLog, err := os.Create(filepath.Join(art, "tray-e2e-tray.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer trayLog.Close()
	trayCmd := exec.Command(filepath.Join(bin, "mapdrive-tray"), "--socket", sock, "--agent", filepath.Join(bin, "mapdrive"))
	trayCmd.Env = env
	trayCmd.Stdout, trayCmd.Stderr = trayLog, trayLog
	if err := trayCmd.Start(); err != nil {
		t.Fatal(err)
	}
	// However the test ends: stop the tray (deferred below), then the agent
	// it started, then drop a mount the agent left behind.
	var mounted string
	t.Cleanup(func() {
		stopAgent(t, sock)
		if mounted != "" {
			exec.Command("fusermount", "-u", "-z", mounted).Run()
		}
	})
	trayDone := make(chan error, 1)
	go func() { trayDone <- trayCmd.Wait() }()
	defer func() {
		trayCmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-trayDone:
		case <-time.After(10 * time.Second):
			trayCmd.Process.Kill()
			<-trayDone
		}
	}()

	lc, err := localclient.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, 120*time.Second, "the tray to start the agent", func() error {
		_, err := lc.Version(ctx)
		return err
	})
	// Signed out, the tray menu offers to sign in; the window is hidden.
	item, err := watcher.WaitItem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	menu := waitMenu(t, ctx, watcher, item, "the signed-out menu", func(labels []string) error {
		if !slices.Contains(labels, tray.LabelSignIn) {
			return fmt.Errorf("no %q in %q", tray.LabelSignIn, labels)
		}
		return nil
	})
	t.Logf("signed-out tray menu: %q", menu.Labels())
	if mapped(display) {
		t.Fatalf("the main window is visible before Open Mapdrive was clicked")
	}
	click(t, ctx, watcher, item, menu, tray.LabelOpen)
	waitFor(t, ctx, 20*time.Second, "the main window to appear", func() error {
		if !mapped(display) {
			return fmt.Errorf("no viewable Mapdrive window")
		}
		return nil
	})

	// Sign in from the menu: the agent opens the "browser" (BROWSER=true)
	// and puts the sign-in page in its status; the test plays the browser.
	click(t, ctx, watcher, item, menu, tray.LabelSignIn)
	var authURL string
	waitFor(t, ctx, 60*time.Second, "the agent to start the browser sign-in", func() error {
		st, err := lc.Status(ctx)
		if err != nil {
			return err
		}
		if st.Login == nil || st.Login.AuthURL == "" {
			return fmt.Errorf("no sign-in page in the status (sign-in %s)", st.SignIn)
		}
		authURL = st.Login.AuthURL
		return nil
	})
	if err := authtest.Browser(sim.HTTPClient(), "alice@contoso.com")(authURL); err != nil {
		t.Fatalf("sign in on the sign-in page: %v", err)
	}

	var st apitype.Status
	waitFor(t, ctx, 120*time.Second, "the agent to list alice's drives", func() error {
		st, err = lc.Status(ctx)
		if err != nil {
			return err
		}
		if len(st.Drives) == 0 {
			return fmt.Errorf("no drives yet (sign-in %s)", st.SignIn)
		}
		return nil
	})
	var names []string
	for _, d := range st.Drives {
		names = append(names, d.Name)
	}
	t.Logf("drives: %q", names)

	// The tray menu, as a desktop's tray reads it.
	menu = waitMenu(t, ctx, watcher, item, "the tray menu to list the drives", func(labels []string) error {
		for _, d := range st.Drives {
			if !slices.ContainsFunc(labels, func(l string) bool { return strings.HasPrefix(l, d.Name+" ") }) {
				return fmt.Errorf("menu %q lacks drive %s", labels, d.Name)
			}
		}
		return nil
	})
	labels := menu.Labels()
	t.Logf("tray menu: %q", labels)
	for _, want := range []string{tray.LabelSignOut, tray.LabelPause, tray.LabelOpen, tray.LabelQuit} {
		if !slices.Contains(labels, want) {
			t.Errorf("tray menu %q lacks %q", labels, want)
		}
	}
	checkBadge(t, ctx, watcher, item, st)

	// Pause uploads is a check item that follows the agent's state (before
	// any mount: the agent cannot pause a mounted drive's uploads yet).
	for _, paused := range []bool{true, false} {
		click(t, ctx, watcher, item, menu, tray.LabelPause)
		waitFor(t, ctx, 20*time.Second, fmt.Sprintf("uploads paused = %v", paused), func() error {
			if st, err = lc.Status(ctx); err != nil {
				return err
			}
			if menu, err = watcher.Layout(ctx, item); err != nil {
				return err
			}
			n, _ := menu.Find(tray.LabelPause)
			if st.UploadsPaused != paused || (n.Toggle == 1) != paused {
				return fmt.Errorf("agent paused = %v, menu check state %d", st.UploadsPaused, n.Toggle)
			}
			return nil
		})
	}

	// Clicking a drive in the menu mounts it (FUSE) and opens it.
	d0 := st.Drives[0]
	mountFromMenu(t, ctx, watcher, item, menu, d0)
	waitFor(t, ctx, 60*time.Second, d0.Name+" to be connected", func() error {
		if st, err = lc.Status(ctx); err != nil {
			return err
		}
		for _, d := range st.Drives {
			if d.ID == d0.ID && d.State == apitype.DriveMounted {
				d0 = d
				return nil
			}
		}
		return fmt.Errorf("%s not mounted yet", d0.Name)
	})
	mounted = d0.Mountpoint
	if ents, err := os.ReadDir(d0.Mountpoint); err != nil || len(ents) == 0 {
		t.Errorf("the mounted %s at %s lists %d entries, %v; want its files", d0.Name, d0.Mountpoint, len(ents), err)
	}
	menu = waitMenu(t, ctx, watcher, item, "the menu to show the drive connected", func(labels []string) error {
		if want := tray.MenuLabel(d0); !slices.Contains(labels, want) {
			return fmt.Errorf("no %q in %q", want, labels)
		}
		return nil
	})

	// Screenshot until the drive names are on screen (the first frames may
	// still be drawing).
	var shot image.Image
	var geo image.Rectangle
	tmpl := textTemplate(t, st.Drives[0].Name)
	waitFor(t, ctx, 20*time.Second, "the window to show the drives", func() error {
		geo, err = windowGeometry(display)
		if err != nil {
			return err
		}
		shot, err = screenshot(display)
		if err != nil {
			return err
		}
		win := crop(shot, geo)
		if n := distinctColours(win); n < 32 {
			return fmt.Errorf("the window looks blank: %d colours", n)
		}
		score, at := findTemplate(win, tmpl)
		if score > 12 {
			return fmt.Errorf("drive name %q not found in the window (best mean difference %.1f at %v)", st.Drives[0].Name, score, at)
		}
		t.Logf("drive name %q found at %v in the window (mean difference %.2f of 255)", st.Drives[0].Name, at, score)
		return nil
	})
	// The search must be able to fail: a name not on screen is not found.
	if score, at := findTemplate(crop(shot, geo), textTemplate(t, "Quarterly Zebra Ledger")); score <= 12 {
		t.Errorf("a name that is not shown matched at %v (score %.1f): the check proves nothing", at, score)
	}
	path := filepath.Join(art, "tray-main-window.png")
	if err := writePNG(path, crop(shot, geo)); err != nil {
		t.Fatal(err)
	}
	writePNG(filepath.Join(art, "tray-screen.png"), shot)
	t.Logf("screenshot of the main window (%v) in %s", geo, path)

	// A full drive: the upload of a new file fails with quotaLimitReached;
	// the tray sends a notification and its badge asks for attention.
	if _, err := sim.Admin().AddFault(ctx, m365sim.Fault{Kind: m365sim.FaultQuotaFull, User: "alice@contoso.com"}); err != nil {
		t.Fatalf("add the quota fault: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d0.Mountpoint, "quarterly-report.txt"), []byte("Q3 figures\n"), 0o644); err != nil {
		t.Fatalf("write a file into the mounted drive: %v", err)
	}
	nctx, ncancel := context.WithTimeout(ctx, 120*time.Second)
	note, err := notes.Wait(nctx, "Storage full")
	ncancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("notification: %q: %q", note.Summary, note.Body)
	if note.App != trayapp.AppID || !strings.Contains(note.Body, "Free") {
		t.Errorf("notification %+v: want one from %s saying what to do", note, trayapp.AppID)
	}
	waitFor(t, ctx, 20*time.Second, "the attention badge", func() error {
		st, err := lc.Status(ctx)
		if err != nil {
			return err
		}
		return badgeColour(ctx, watcher, item, st, tray.BadgeAttention)
	})
	// An artifact only: the agent may retry and clear the problem at once.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if st, err := lc.Status(ctx); err == nil && len(st.Errors) > 0 {
			time.Sleep(500 * time.Millisecond) // a frame or two to draw it
			if shot, err := screenshot(display); err == nil {
				writePNG(filepath.Join(art, "tray-main-window-problem.png"), crop(shot, geo))
			}
			break
		}
	}
	if err := sim.Admin().ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}

	// Sign out from the menu: the agent forgets alice, the menu offers to
	// sign in again.
	if menu, err = watcher.Layout(ctx, item); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, watcher, item, menu, tray.LabelSignOut)
	menu = waitMenu(t, ctx, watcher, item, "the menu after signing out", func(labels []string) error {
		if !slices.Contains(labels, tray.LabelSignIn) {
			return fmt.Errorf("no %q in %q", tray.LabelSignIn, labels)
		}
		return nil
	})
	if st, err = lc.Status(ctx); err != nil || st.SignIn != apitype.SignedOut {
		t.Errorf("after Sign out the agent is %v (%v), want signed out", st.SignIn, err)
	}

	// Quit from the menu ends the tray cleanly; the agent stays.
	click(t, ctx, watcher, item, menu, tray.LabelQuit)
	select {
	case err := <-trayDone:
		trayDone <- err // for the deferred stop
		if err != nil {
			t.Errorf("the tray exited with %v after Quit", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the tray still runs 20 s after Quit")
	}
	if _, err := lc.Version(ctx); err != nil {
		t.Errorf("the agent stopped with the tray: %v", err)
	}

	// Started by a login entry while start at login is off, the tray quits.
	if st.Settings.Autostart {
		t.Fatalf("start at login is on in the agent; the --at-login check needs it off")
	}
	atLogin := exec.CommandContext(ctx, filepath.Join(bin, "mapdrive-tray"), "--socket", sock, tray.AtLoginFlag)
	atLogin.Env = env
	atLogin.Stdout, atLogin.Stderr = trayLog, trayLog
	atLogin.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := atLogin.Run(); err != nil {
		t.Errorf("mapdrive-tray %s: %v", tray.AtLoginFlag, err)
	} else {
		t.Logf("mapdrive-tray %s quit after %v", tray.AtLoginFlag, time.Since(start).Round(time.Millisecond))
	}
}

// mountFromMenu clicks d's entry in the tray menu. It needs FUSE: without
// /dev/fuse the test fails under CI and skips elsewhere.
func mountFromMenu(t *testing.T, ctx context.Context, w *sniwatch.Watcher, it sniwatch.Item, menu sniwatch.MenuNode, d apitype.Drive) {
	t.Helper()
	for _, need := range []string{"/dev/fuse", "fusermount"} {
		if _, err := os.Stat(need); need == "fusermount" {
			_, err = exec.LookPath(need)
			if err == nil {
				continue
			}
		} else if err == nil {
			continue
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: the tray's mount check must run in CI", need)
		}
		t.Skipf("%s is missing (FUSE); the rest of the tray test needs a mount", need)
	}
	click(t, ctx, w, it, menu, tray.MenuLabel(d))
}

// waitMenu reads the tray menu until ok accepts its labels.
func waitMenu(t *testing.T, ctx context.Context, w *sniwatch.Watcher, it sniwatch.Item, what string, ok func([]string) error) sniwatch.MenuNode {
	t.Helper()
	var menu sniwatch.MenuNode
	waitFor(t, ctx, 30*time.Second, what, func() error {
		var err error
		if menu, err = w.Layout(ctx, it); err != nil {
			return err
		}
		return ok(menu.Labels())
	})
	return menu
}

// click picks the menu entry labelled label, as the user would in the tray.
func click(t *testing.T, ctx context.Context, w *sniwatch.Watcher, it sniwatch.Item, menu sniwatch.MenuNode, label string) {
	t.Helper()
	n, ok := menu.Find(label)
	if !ok {
		t.Fatalf("no %q entry in the tray menu %q", label, menu.Labels())
	}
	if err := w.Click(ctx, it, n.ID); err != nil {
		t.Fatal(err)
	}
}

// checkBadge checks the tray icon's badge has the colour BadgeFor gives st.
func checkBadge(t *testing.T, ctx context.Context, w *sniwatch.Watcher, it sniwatch.Item, st apitype.Status) {
	t.Helper()
	if err := badgeColour(ctx, w, it, st, tray.BadgeFor(st)); err != nil {
		t.Error(err)
	}
}

// badgeColour reads the tray icon (ARGB32 pixmaps) and checks the badge
// disc has badge's colour.
func badgeColour(ctx context.Context, w *sniwatch.Watcher, it sniwatch.Item, st apitype.Status, badge tray.Badge) error {
	v, err := w.Property(ctx, it, "IconPixmap")
	if err != nil {
		return fmt.Errorf("read the tray icon: %w", err)
	}
	pix, ok := v.Value().([][]any)
	if !ok || len(pix) == 0 || len(pix[0]) != 3 {
		return fmt.Errorf("tray icon is %T %v, want [(iiay)]", v.Value(), v.Value())
	}
	iw, _ := pix[0][0].(int32)
	ih, _ := pix[0][1].(int32)
	data, _ := pix[0][2].([]byte)
	if iw <= 0 || ih <= 0 || len(data) != int(iw*ih*4) {
		return fmt.Errorf("tray icon is %dx%d with %d bytes", iw, ih, len(data))
	}
	// A point inside the disc, left of any glyph.
	x, y := int(float64(iw)*(0.73-0.26*0.7)), int(float64(ih)*0.73)
	o := (y*int(iw) + x) * 4
	r, g, b := data[o+1], data[o+2], data[o+3] // ARGB, network order
	want := map[tray.Badge]func() bool{
		tray.BadgeOK:        func() bool { return int(g) > int(r)+40 && int(g) > int(b)+20 },
		tray.BadgeSyncing:   func() bool { return int(b) > int(r)+60 },
		tray.BadgeOffline:   func() bool { return absDiff(r, b) < 30 && absDiff(r, g) < 30 },
		tray.BadgeAttention: func() bool { return int(r) > int(b)+100 },
	}[badge]
	if !want() {
		return fmt.Errorf("the tray icon's badge pixel rgb(%d,%d,%d) does not have the %v colour", r, g, b, badge)
	}
	return nil
}

// stopAgent ends the agent the tray started (it outlives the tray by
// design): its pid comes from the socket's peer credentials.
func stopAgent(t *testing.T, sock string) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil || cred.Pid <= 1 {
		t.Logf("could not find the agent's pid: %v", err)
		return
	}
	p, err := os.FindProcess(int(cred.Pid))
	if err != nil {
		return
	}
	p.Signal(syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if p.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Kill()
}

// startXvfb starts a private X server on a free display.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
		r.Close()
	}()
	select {
	case n := <-line:
		if n == "" {
			t.Fatalf("Xvfb gave no display number")
		}
		return ":" + n
	case err := <-done:
		t.Fatalf("Xvfb exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("Xvfb did not start in 20 s")
	}
	return ""
}

// mapped reports whether a window named Mapdrive is viewable.
func mapped(display string) bool {
	out, err := xcmd(display, "xwininfo", "-name", "Mapdrive")
	return err == nil && strings.Contains(out, "IsViewable")
}

var geoRE = map[string]*regexp.Regexp{
	"x": regexp.MustCompile(`Absolute upper-left X:\s+(-?\d+)`),
	"y": regexp.MustCompile(`Absolute upper-left Y:\s+(-?\d+)`),
	"w": regexp.MustCompile(`Width:\s+(\d+)`),
	"h": regexp.MustCompile(`Height:\s+(\d+)`),
}

// windowGeometry returns where the Mapdrive window is on the screen.
func windowGeometry(display string) (image.Rectangle, error) {
	out, err := xcmd(display, "xwininfo", "-name", "Mapdrive")
	if err != nil {
		return image.Rectangle{}, err
	}
	v := map[string]int{}
	for k, re := range geoRE {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return image.Rectangle{}, fmt.Errorf("xwininfo gave no %s: %s", k, out)
		}
		v[k], _ = strconv.Atoi(m[1])
	}
	return image.Rect(v["x"], v["y"], v["x"]+v["w"], v["y"]+v["h"]), nil
}

// screenshot grabs the whole screen with ImageMagick's import.
func screenshot(display string) (image.Image, error) {
	cmd := exec.Command("import", "-window", "root", "png:-")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("import -window root: %w", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decode the screenshot: %w", err)
	}
	return img, nil
}

func xcmd(display, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func crop(img image.Image, r image.Rectangle) *image.NRGBA {
	r = r.Intersect(img.Bounds())
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), img, r.Min, draw.Src)
	return out
}

func distinctColours(img *image.NRGBA) int {
	seen := map[[3]uint8]bool{}
	for i := 0; i < len(img.Pix); i += 4 {
		seen[[3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}] = true
	}
	return len(seen)
}

// textTemplate renders s as fyne draws a drive's name (bold, the theme's
// text size, light variant) and crops it to the ink.
func textTemplate(t *testing.T, s string) *image.NRGBA {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(lightTheme{theme.DefaultTheme()}) // as FYNE_THEME=light gives the real app
	bg := theme.Color(theme.ColorNameBackground)
	txt := canvas.NewText(s, theme.Color(theme.ColorNameForeground))
	txt.TextStyle = fyne.TextStyle{Bold: true}
	txt.TextSize = theme.TextSize()
	rect := canvas.NewRectangle(bg)
	size := txt.MinSize().Add(fyne.NewSize(8, 8))
	rect.Resize(size)
	txt.Move(fyne.NewPos(4, 4))
	txt.Resize(txt.MinSize())
	w := test.NewWindow(container.NewWithoutLayout(rect, txt))
	defer w.Close()
	w.SetPadded(false)
	w.Resize(size)
	img := w.Canvas().Capture()
	return inkBounds(crop(img, img.Bounds()), bg)
}

// lightTheme is fyne's default theme, always in its light variant.
type lightTheme struct{ fyne.Theme }

func (l lightTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return l.Theme.Color(n, theme.VariantLight)
}

// inkBounds crops img to the pixels that differ from bg.
func inkBounds(img *image.NRGBA, bg color.Color) *image.NRGBA {
	br, bgc, bb, _ := bg.RGBA()
	r := image.Rectangle{}
	first := true
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			c := img.NRGBAAt(x, y)
			if absDiff(c.R, uint8(br>>8))+absDiff(c.G, uint8(bgc>>8))+absDiff(c.B, uint8(bb>>8)) < 30 {
				continue
			}
			p := image.Rect(x, y, x+1, y+1)
			if first {
				r, first = p, false
			} else {
				r = r.Union(p)
			}
		}
	}
	return crop(img, r)
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// findTemplate slides tmpl over img and returns the lowest mean absolute
// difference per channel and where it is.
func findTemplate(img, tmpl *image.NRGBA) (float64, image.Point) {
	tw, th := tmpl.Bounds().Dx(), tmpl.Bounds().Dy()
	best, at := 1e9, image.Point{}
	n := float64(tw * th * 3)
	for y := 0; y+th <= img.Bounds().Dy(); y++ {
		for x := 0; x+tw <= img.Bounds().Dx(); x++ {
			limit := best * n
			sum := 0.0
		rows:
			for ty := 0; ty < th; ty++ {
				io := img.PixOffset(x, y+ty)
				to := tmpl.PixOffset(0, ty)
				for tx := 0; tx < tw; tx++ {
					for c := 0; c < 3; c++ {
						sum += float64(absDiff(img.Pix[io+4*tx+c], tmpl.Pix[to+4*tx+c]))
					}
				}
				if sum >= limit {
					break rows
				}
			}
			if s := sum / n; s < best {
				best, at = s, image.Pt(x, y)
			}
		}
	}
	return best, at
}

func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// waitFor polls f until it succeeds, failing the test after d.
func waitFor(t *testing.T, ctx context.Context, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// repoRoot finds the directory holding go.work.
func repoRoot(t *testing.T) string {
	t.Helper()
	if r := os.Getenv("MAPDRIVE_TEST_REPO"); r != "" {
		return r
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.work above the test's directory")
		}
		dir = parent
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
