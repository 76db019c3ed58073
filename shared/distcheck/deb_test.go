package distcheck

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// debPaths are the files the .deb must install.
var debPaths = []string{
	"/usr/bin/mapdrive",
	"/usr/bin/mapdrive-tray",
	"/usr/share/applications/mapdrive.desktop",
	"/etc/xdg/autostart/mapdrive-tray.desktop",
	"/usr/lib/systemd/user/mapdrive-agent.service",
	"/usr/share/icons/hicolor/16x16/apps/mapdrive.png",
	"/usr/share/icons/hicolor/48x48/apps/mapdrive.png",
	"/usr/share/icons/hicolor/256x256/apps/mapdrive.png",
	"/usr/share/icons/hicolor/scalable/apps/mapdrive.svg",
	"/usr/share/doc/mapdrive/copyright",
	"/usr/share/mapdrive/nautilus/Mapdrive/Copy link",
}

func TestDebPackage(t *testing.T) {
	t.Parallel() // with TestMSIUnderWine
	d := buildDist(t)
	ctx := context.Background()

	fields, err := DebFields(ctx, d.deb)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Package": "mapdrive", "Version": DebVersion(d.version), "Architecture": "amd64"} {
		if fields[k] != v {
			t.Errorf("control %s = %q, want %q", k, fields[k], v)
		}
	}
	deps := map[string]bool{}
	for _, dep := range strings.Split(fields["Depends"], ",") {
		deps[strings.Fields(dep)[0]] = true
	}
	for _, want := range []string{"fuse3", "libfuse3-3", "libc6"} {
		if !deps[want] {
			t.Errorf("Depends = %q, missing %s", fields["Depends"], want)
		}
	}

	files, err := DebContents(ctx, d.deb)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]DebFile{}
	for _, f := range files {
		byPath[f.Path] = f
		if f.Owner != "root/root" {
			t.Errorf("%s owned by %s, want root/root", f.Path, f.Owner)
		}
	}
	for _, p := range debPaths {
		f, ok := byPath[p]
		if !ok {
			t.Errorf(".deb lacks %s", p)
			continue
		}
		wantMode := "-rw-r--r--"
		if strings.HasPrefix(p, "/usr/bin/") || strings.Contains(p, "/nautilus/") {
			wantMode = "-rwxr-xr-x"
		}
		if f.Mode != wantMode {
			t.Errorf("%s mode %s, want %s", p, f.Mode, wantMode)
		}
	}

	t.Run("desktop entries", func(t *testing.T) {
		for _, f := range []string{"mapdrive.desktop", "mapdrive-tray-autostart.desktop"} {
			checkDesktopEntry(t, filepath.Join(d.root, "installer", "linux", f), byPath)
		}
	})

	t.Run("install, run, remove", func(t *testing.T) {
		requireRoot(t)
		requireTools(t, "dpkg")
		start := time.Now()
		dpkg(t, "-i", d.deb)
		t.Cleanup(func() { dpkgQuiet("-r", "mapdrive") })
		t.Logf("dpkg -i took %v", time.Since(start).Round(time.Millisecond))

		if out, err := exec.Command("dpkg-query", "-W", "-f=${Status} ${Version}", "mapdrive").Output(); err != nil ||
			string(out) != "install ok installed "+DebVersion(d.version) {
			t.Errorf("dpkg-query mapdrive = %q, %v; want installed %s", out, err, DebVersion(d.version))
		}
		for _, p := range debPaths {
			if !fileExists(p) {
				t.Errorf("after dpkg -i, %s is missing", p)
			}
		}
		if MissingTools("systemd-analyze") == nil {
			// System mode: --user needs a running user manager. --man=no:
			// Documentation= is a URL, not a man page.
			unit := "/usr/lib/systemd/user/mapdrive-agent.service"
			if out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
			}
		}
		out, err := exec.Command("/usr/bin/mapdrive", "version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), d.version) {
			t.Errorf("mapdrive version = %q, %v; want it to print %s", out, err, d.version)
		}
		// cgofuse dlopens its libfuse by name: the package depends on
		// libfuse3-3, so the binary must be the fuse3 build.
		if bin, err := os.ReadFile("/usr/bin/mapdrive"); err != nil || !bytes.Contains(bin, []byte("libfuse3.so.3")) || bytes.Contains(bin, []byte("libfuse.so.2")) {
			t.Errorf("/usr/bin/mapdrive (%v) does not load libfuse3.so.3 alone: it was built without the fuse3 tag, but the package depends on libfuse3-3", err)
		}
		// postinst enables the user unit for every user; prerm undoes it.
		const wants = "/etc/systemd/user/default.target.wants/mapdrive-agent.service"
		hasSystemctl := MissingTools("systemctl") == nil
		if hasSystemctl {
			if target, err := os.Readlink(wants); err != nil || target != "/usr/lib/systemd/user/mapdrive-agent.service" {
				t.Errorf("after dpkg -i, %s -> %q (%v), want the packaged unit: postinst did not enable it", wants, target, err)
			}
		}
		runAgent(t, d)

		dpkg(t, "-r", "mapdrive")
		if _, err := os.Lstat(wants); hasSystemctl && err == nil {
			t.Errorf("after dpkg -r, %s still exists: prerm did not disable the unit", wants)
		}
		for _, p := range debPaths {
			if p == "/usr/share/doc/mapdrive/copyright" {
				continue
			}
			if fileExists(p) {
				t.Errorf("after dpkg -r, %s is still there", p)
			}
		}
	})
}

// runAgent starts the agent the way the user unit does: under the user's
// systemd when one answers, otherwise by running the unit's ExecStart with
// a user's environment. It then checks the agent serves its local API.
func runAgent(t *testing.T, d *distArtifacts) {
	t.Helper()
	unit := "/usr/lib/systemd/user/mapdrive-agent.service"
	execStart := unitExecStart(t, unit)
	if len(execStart) < 2 || execStart[0] != "/usr/bin/mapdrive" || execStart[1] != "agent" {
		t.Fatalf("%s ExecStart = %v, want /usr/bin/mapdrive agent", unit, execStart)
	}
	if exec.Command("systemctl", "--user", "show-environment").Run() == nil {
		if out, err := exec.Command("systemctl", "--user", "start", "mapdrive-agent.service").CombinedOutput(); err != nil {
			t.Fatalf("systemctl --user start mapdrive-agent: %v: %s", err, out)
		}
		defer exec.Command("systemctl", "--user", "stop", "mapdrive-agent.service").Run()
		waitActive(t)
		t.Log("agent started under the systemd user manager")
		return
	}
	t.Log("no systemd user manager here (no systemd as PID 1): running the unit's ExecStart directly")

	home := t.TempDir()
	runtime := filepath.Join(home, "run")
	if err := os.MkdirAll(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + runtime,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"PATH=/usr/bin:/bin",
	}
	agent := exec.Command(execStart[0], execStart[1:]...)
	agent.Env = env
	logPath := filepath.Join(home, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	agent.Stdout, agent.Stderr = logf, logf
	if err := agent.Start(); err != nil {
		t.Fatalf("start %v: %v", execStart, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			agent.Process.Kill()
			<-exited
			t.Error("agent did not exit within 30s of SIGTERM")
		}
	}()

	sock := filepath.Join(runtime, "mapdrive", "agent.sock")
	deadline := time.Now().Add(20 * time.Second)
	for !fileExists(sock) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			exited <- err
			t.Fatalf("agent exited before serving (%v):\n%s", err, lastLines(string(log), 20))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("agent socket %s did not appear within 20s:\n%s", sock, lastLines(string(log), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("agent socket mode %v, want a 0600 socket", st.Mode())
	}
	status := exec.Command("/usr/bin/mapdrive", "status", "--json")
	status.Env = env
	if out, err := status.CombinedOutput(); err != nil {
		t.Errorf("mapdrive status --json against the running agent: %v\n%s", err, out)
	}
}

// unitExecStart returns the ExecStart= words of a unit file.
func unitExecStart(t *testing.T, unit string) []string {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s has no ExecStart", unit)
	return nil
}

func waitActive(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("systemctl", "--user", "is-active", "mapdrive-agent.service").Output()
		if strings.TrimSpace(string(out)) == "active" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("mapdrive-agent.service not active within 20s")
}

// dpkg runs dpkg, waiting out another process's lock for up to a minute.
func dpkg(t *testing.T, args ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil {
			return
		}
		if strings.Contains(string(out), "lock") && time.Now().Before(deadline) {
			time.Sleep(2 * time.Second)
			continue
		}
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func dpkgQuiet(args ...string) { exec.Command("dpkg", args...).Run() }

// checkDesktopEntry checks a freedesktop .desktop file: the group header,
// the keys every application entry needs, an Exec that the package
// installs, and the icon name the package's icons use.
func checkDesktopEntry(t *testing.T, path string, pkg map[string]DebFile) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if lines[0] != "[Desktop Entry]" {
		t.Errorf("%s starts with %q, want [Desktop Entry]", path, lines[0])
	}
	keys := map[string]string{}
	for i, l := range lines[1:] {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("%s line %d: %q is not key=value", path, i+2, l)
			continue
		}
		if _, dup := keys[k]; dup {
			t.Errorf("%s: key %s repeated", path, k)
		}
		keys[k] = v
	}
	for k, want := range map[string]string{"Type": "Application", "Icon": "mapdrive", "Terminal": "false"} {
		if keys[k] != want {
			t.Errorf("%s: %s=%q, want %q", path, k, keys[k], want)
		}
	}
	if keys["Name"] == "" {
		t.Errorf("%s: no Name", path)
	}
	exe := strings.Fields(keys["Exec"])
	if len(exe) == 0 {
		t.Fatalf("%s: no Exec", path)
	}
	if _, ok := pkg["/usr/bin/"+exe[0]]; !ok {
		t.Errorf("%s: Exec=%s, which the package does not install in /usr/bin", path, keys["Exec"])
	}
	if _, ok := pkg["/usr/share/icons/hicolor/48x48/apps/"+keys["Icon"]+".png"]; !ok {
		t.Errorf("%s: Icon=%s has no 48x48 icon in the package", path, keys["Icon"])
	}
}
