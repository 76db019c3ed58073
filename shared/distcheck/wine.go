package distcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Wine runs Windows programs (msiexec, reg) in one wine prefix. Exit codes
// reach Linux truncated to 8 bits, so msiexec's 1603 arrives as 67; use
// WineExit to compare.
type Wine struct {
	Binary string // wine64
	Prefix string // WINEPREFIX; created by Init

	once     sync.Once
	deadFUSE []string // hung FUSE mounts hidden from wine (see command)
}

// FindWine returns the wine64 loader: on PATH, or where Debian's wine64
// package puts it without the wine wrapper package.
func FindWine() (string, error) {
	if p, err := exec.LookPath("wine64"); err == nil {
		return p, nil
	}
	const debian = "/usr/lib/wine/wine64"
	if fileExists(debian) {
		return debian, nil
	}
	return "", errors.New("wine64 not found (apt-get install wine64)")
}

// WineExit returns the exit status a Linux parent sees when a Windows
// program exits with code.
func WineExit(code int) int { return code & 0xff }

// deadFUSEMounts lists the FUSE mounts that do not answer statfs within
// two seconds. Wine's mount manager looks at every mount (msiexec's
// CreateShortcuts waits on it through GetVolumeInformation), so one hung
// FUSE mount on the machine, left by a crashed FUSE test, hangs an install
// for good.
func deadFUSEMounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var dead []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasPrefix(f[2], "fuse") || strings.ContainsAny(f[1], `'\`) {
			continue
		}
		if exec.Command("timeout", "2", "stat", "-f", f[1]).Run() != nil {
			dead = append(dead, f[1])
		}
	}
	return dead
}

// isolated reports whether wine programs run in a private mount namespace
// (root with unshare, as in CI).
func isolated() bool {
	if os.Geteuid() != 0 {
		return false
	}
	_, err := exec.LookPath("unshare")
	return err == nil
}

func (w *Wine) command(ctx context.Context, args ...string) *exec.Cmd {
	name := w.Binary
	if isolated() {
		// The dead mounts are looked for once per prefix, and detached in
		// the program's own mount namespace only; the host's stay. unshare
		// and sh exec in turn, so the process is wine's own.
		w.once.Do(func() { w.deadFUSE = deadFUSEMounts() })
		script := `exec "$@"`
		if len(w.deadFUSE) > 0 {
			script = "umount -l '" + strings.Join(w.deadFUSE, "' '") + `' 2>/dev/null; exec "$@"`
		}
		args = append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", w.Binary}, args...)
		name = "unshare"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	env := []string{"WINEPREFIX=" + w.Prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml,winemenubuilder.exe="}
	for _, kv := range os.Environ() {
		// No display: wine must not try to open windows on a developer's X.
		if strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "WAYLAND_DISPLAY=") ||
			strings.HasPrefix(kv, "WINEPREFIX=") || strings.HasPrefix(kv, "WINEDEBUG=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	return cmd
}

// Init creates the prefix and makes it report Windows 10, which the MSI's
// launch condition requires.
func (w *Wine) Init(ctx context.Context) error {
	if out, err := w.command(ctx, "wineboot", "--init").CombinedOutput(); err != nil {
		return fmt.Errorf("wineboot in %s: %w: %s", w.Prefix, err, out)
	}
	if out, err := w.command(ctx, "winecfg", "/v", "win10").CombinedOutput(); err != nil {
		return fmt.Errorf("winecfg /v win10 in %s: %w: %s", w.Prefix, err, out)
	}
	// Let the first boot's background work finish: a program started while
	// it runs can wait up to two minutes for wineboot's signal.
	wait := exec.CommandContext(ctx, w.server(), "-w")
	wait.Env = append(os.Environ(), "WINEPREFIX="+w.Prefix)
	if out, err := wait.CombinedOutput(); err != nil {
		return fmt.Errorf("wineserver -w in %s: %w: %s", w.Prefix, err, out)
	}
	return nil
}

// server returns the wineserver that goes with Binary.
func (w *Wine) server() string {
	if s := filepath.Join(filepath.Dir(w.Binary), "wineserver"); fileExists(s) {
		return s
	}
	return "wineserver"
}

// Run runs a Windows program and returns its exit status (8 bits) and its
// combined output. err is set only when the program could not be run.
//
// Wine now and then fails to launch a program at all ("ShellExecuteEx
// failed: Internal error", seen with reg.exe right after an msiexec run);
// the program never started, so Run tries such a launch again, up to three
// times, before reporting it.
func (w *Wine) Run(ctx context.Context, args ...string) (int, string, error) {
	for attempt := 1; ; attempt++ {
		code, out, err := w.runOnce(ctx, args...)
		if err != nil || code == 0 || attempt == 3 || !launchFailed(out) {
			return code, out, err
		}
		select {
		case <-ctx.Done():
			return code, out, err
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}

func (w *Wine) runOnce(ctx context.Context, args ...string) (int, string, error) {
	out, err := w.command(ctx, args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out), nil
	}
	if err != nil {
		return -1, string(out), fmt.Errorf("run %s under wine: %w", strings.Join(args, " "), err)
	}
	return 0, string(out), nil
}

// Start starts a Windows program in the background with its output going
// to out. The caller waits for it (cmd.Wait) or kills it; Shutdown stops
// every program of the prefix.
func (w *Wine) Start(ctx context.Context, out io.Writer, args ...string) (*exec.Cmd, error) {
	cmd := w.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s under wine: %w", strings.Join(args, " "), err)
	}
	return cmd, nil
}

// Output runs a Windows program and returns its exit status (8 bits) and
// its standard output and error apart, for programs that print JSON.
func (w *Wine) Output(ctx context.Context, args ...string) (code int, stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := w.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), o.String(), e.String(), nil
	}
	if err != nil {
		return -1, o.String(), e.String(), fmt.Errorf("run %s under wine: %w", strings.Join(args, " "), err)
	}
	return 0, o.String(), e.String(), nil
}

// launchFailed reports whether wine's output says the program could not be
// started at all, as opposed to the program itself failing.
func launchFailed(out string) bool {
	// "wine client error": the program lost its wineserver connection
	// (seen twice in CI on reg.exe, "recvmsg: Connection reset by peer").
	return strings.Contains(out, "ShellExecuteEx failed") || strings.Contains(out, "Application could not be started") ||
		strings.Contains(out, "wine client error")
}

// Shutdown stops the prefix's wineserver and every program in it.
func (w *Wine) Shutdown(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, w.server(), "-k")
	cmd.Env = append(os.Environ(), "WINEPREFIX="+w.Prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wineserver -k in %s: %w: %s", w.Prefix, err, out)
	}
	return nil
}

// RegValue is one registry value as reg.exe prints it.
type RegValue struct {
	Type string // REG_SZ, REG_DWORD, ...
	Data string // as printed: strings verbatim, DWORDs as 0x...
}

// RegQuery lists the values of an HKLM/HKCU key in the 64-bit view. found
// is false when the key does not exist.
func (w *Wine) RegQuery(ctx context.Context, key string) (values map[string]RegValue, found bool, err error) {
	code, out, err := w.Run(ctx, "reg", "query", key, "/reg:64")
	if err != nil {
		return nil, false, err
	}
	if code != 0 {
		if strings.Contains(out, "Unable to find") {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reg query %s: exit %d: %s", key, code, out)
	}
	return ParseRegQuery(out), true, nil
}

// ParseRegQuery parses the values block of `reg query KEY` output: lines of
// four spaces, the name, four spaces, the type, four spaces, the data.
// Subkey lines and the key's own line are skipped. The default value is
// named "(Default)".
func ParseRegQuery(out string) map[string]RegValue {
	values := map[string]RegValue{}
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(l, "    "), "    ", 3)
		if len(parts) < 2 || !strings.HasPrefix(parts[1], "REG_") {
			continue
		}
		v := RegValue{Type: parts[1]}
		if len(parts) == 3 {
			v.Data = parts[2]
		}
		values[parts[0]] = v
	}
	return values
}

// UnixPath maps a Windows path in the prefix (C:\...) or on the Z: drive to
// the Linux path it stands for.
func (w *Wine) UnixPath(win string) (string, error) {
	if len(win) < 3 || win[1] != ':' || win[2] != '\\' {
		return "", fmt.Errorf("%q is not an absolute Windows path", win)
	}
	rest := filepath.FromSlash(strings.ReplaceAll(win[3:], `\`, "/"))
	switch strings.ToUpper(win[:1]) {
	case "C":
		return filepath.Join(w.Prefix, "drive_c", rest), nil
	case "Z":
		return filepath.Join("/", rest), nil
	}
	return "", fmt.Errorf("%q is on a drive the prefix does not map", win)
}

// WinPath returns the Z: path wine gives a Linux path.
func WinPath(unix string) string { return `Z:` + strings.ReplaceAll(unix, "/", `\`) }

// MSILogProperty returns the server-side value of property prop recorded in
// a verbose msiexec log (/l*v), and reports whether it was found.
func MSILogProperty(log, prop string) (string, bool) {
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimRight(l, "\r")
		if v, ok := strings.CutPrefix(l, "Property(S): "+prop+" = "); ok {
			return v, true
		}
	}
	return "", false
}
