package distcheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/version"
)

const (
	policyKey    = `HKLM\Software\Policies\Mapdrive`
	runKey       = `HKLM\Software\Microsoft\Windows\CurrentVersion\Run`
	uninstallKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\`
	installDir   = `C:\Program Files\Mapdrive`
	envKey       = `HKLM\System\CurrentControlSet\Control\Session Manager\Environment`
)

// twoLeaseKeys is a LEASEKEY value as during a rotation: two keys
// (lease.EncodePublicKey form) separated by ";", kept verbatim.
const twoLeaseKeys = "F7SYUyhYjKzXd0dBFBJOnftEDyvB5BadjRF6GD0oT1w;lMUUzG6Ktrmd4cxFGlQ4tsZe8ChCCUyiAHKc1z0FkoY"

// buildOlderMSI packages the already built Windows binaries as an MSI of
// another version, with the same signing, through `dist.sh msi`.
func buildOlderMSI(t *testing.T, d *distArtifacts, version string) string {
	t.Helper()
	out := filepath.Join(tmpBase, "msi-"+version, "mapdrive-"+version+"-x64.msi")
	if b, err := distMSI(d, version, out,
		"MAPDRIVE_SIGN_CERT="+d.sign.Cert, "MAPDRIVE_SIGN_KEY="+d.sign.Key, "MAPDRIVE_SIGN_CAFILE="+d.sign.CA); err != nil {
		t.Fatalf("dist.sh msi %s: %v\n%s", version, err, b)
	}
	return out
}

// distMSI runs `dist.sh msi` with the signing environment env, requiring a
// certificate.
func distMSI(d *distArtifacts, version, out string, env ...string) ([]byte, error) {
	cmd := exec.Command("bash", filepath.Join(d.root, "scripts", "dist.sh"), "msi", version, filepath.Join(d.dir, "windows"), out)
	cmd.Env = append(append(os.Environ(), "MAPDRIVE_DIST_DIR="+filepath.Dir(out), "MAPDRIVE_SIGN_REQUIRED=1"), env...)
	return cmd.CombinedOutput()
}

// TestMSIUnderWine installs, upgrades, refuses a downgrade of, and
// uninstalls the MSI with wine's msiexec, checking the registry and files
// after each step.
func TestMSIUnderWine(t *testing.T) {
	t.Parallel() // with TestDebPackage: both mostly wait on other processes
	d := buildDist(t)
	requireTools(t, "msiextract")
	wineBin, err := FindWine()
	if err != nil {
		requireTools(t, "wine64") // fails under CI, skips elsewhere
	}
	if !versionAbove(version.MSIVersion(d.version), 0, 0, 2) {
		t.Fatalf("VERSION %s: this test needs it above 0.0.2 to upgrade from 0.0.1 and 0.0.2", d.version)
	}
	v1, v2, v3 := "0.0.1", "0.0.2", d.version
	pc1, pc3 := "{"+version.ProductCode(v1)+"}", "{"+version.ProductCode(v3)+"}"

	// Generous: it boots a prefix beside TestWindowsAgentUnderWine's, and
	// the full cycle runs some forty wine programs.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	w := &Wine{Binary: wineBin, Prefix: filepath.Join(tmpBase, "wine")}
	start := time.Now()
	// The prefix boots while the older packages are built.
	initDone := make(chan error, 1)
	go func() { initDone <- w.Init(ctx) }()
	// wineserver -k fails only when no server is left to stop.
	t.Cleanup(func() { w.Shutdown(context.Background()) })
	msi1, msi2, msi3 := buildOlderMSI(t, d, v1), buildOlderMSI(t, d, v2), d.msi
	if err := <-initDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("older MSIs built and wine prefix ready in %v", time.Since(start).Round(time.Millisecond))
	addGoRuntimeShim(t, ctx, w)

	logs := t.TempDir()
	msiexec := func(step string, args ...string) (int, string) {
		t.Helper()
		logFile := filepath.Join(logs, step+".log")
		begin := time.Now()
		code, out, err := w.Run(ctx, append(append([]string{"msiexec"}, args...), "/qn", "/l*v", WinPath(logFile))...)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		log, _ := os.ReadFile(logFile)
		t.Logf("%s: msiexec exit %d in %v", step, code, time.Since(begin).Round(time.Millisecond))
		if code != 0 && !strings.HasPrefix(step, "refused-") {
			t.Fatalf("%s: msiexec exit %d\n%s\n%s", step, code, out, lastLines(string(log), 30))
		}
		return code, string(log)
	}
	systemPath := func() string {
		t.Helper()
		v, _, err := w.RegQuery(ctx, envKey)
		if err != nil {
			t.Fatal(err)
		}
		return v["PATH"].Data
	}
	pathEntries := func() int {
		t.Helper()
		n := 0
		for _, p := range strings.Split(systemPath(), ";") {
			if strings.EqualFold(strings.TrimSuffix(p, `\`), installDir) {
				n++
			}
		}
		return n
	}
	policy := func() map[string]RegValue {
		t.Helper()
		v, _, err := w.RegQuery(ctx, policyKey)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	registered := func(code string) (string, bool) {
		t.Helper()
		v, found, err := w.RegQuery(ctx, uninstallKey+code)
		if err != nil {
			t.Fatal(err)
		}
		return v["DisplayVersion"].Data, found
	}
	runValue := func() (RegValue, bool) {
		t.Helper()
		v, _, err := w.RegQuery(ctx, runKey)
		if err != nil {
			t.Fatal(err)
		}
		rv, ok := v["Mapdrive"]
		return rv, ok
	}
	checkPolicy := func(step string, want map[string]RegValue) {
		t.Helper()
		got := policy()
		for name, wv := range want {
			if got[name] != wv {
				t.Errorf("%s: %s\\%s = %+v, want %+v", step, policyKey, name, got[name], wv)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: policy values %v, want exactly %v", step, got, want)
		}
	}
	programDir, err := w.UnixPath(installDir)
	if err != nil {
		t.Fatal(err)
	}

	// 0. Bad property values are refused before anything is installed.
	for _, bad := range [][]string{{"AUTOSTART=yes"}, {"CACHEMAXGB=lots"}, {"CACHEMAXGB=0"}} {
		code, _ := msiexec("refused-"+strings.ReplaceAll(bad[0], "=", "-"), append([]string{"/i", WinPath(msi1)}, bad...)...)
		if code != WineExit(1603) {
			t.Errorf("install with %v: msiexec exit %d, want 1603 (%d under wine)", bad, code, WineExit(1603))
		}
		if _, found := registered(pc1); found {
			t.Fatalf("install with %v was refused but %s is registered", bad, pc1)
		}
	}

	// 1. Fresh install of v1 with every property but AUTOSTART (default 1).
	_, log1 := msiexec("install-"+v1, "/i", WinPath(msi1),
		"SERVICEURL=https://mapdrive.contoso.example", "SERVICESCOPE=api://66666666-7777-8888-9999-000000000001/Mapdrive.Access",
		"TENANTID=11111111-2222-3333-4444-555555555555",
		"CLIENTID=66666666-7777-8888-9999-000000000000", "AUTHORITY=https://login.microsoftonline.com/organizations",
		"CACHEMAXGB=7", "LEASEKEY="+twoLeaseKeys)
	first := map[string]RegValue{
		"service_url":   {"REG_SZ", "https://mapdrive.contoso.example"},
		"service_scope": {"REG_SZ", "api://66666666-7777-8888-9999-000000000001/Mapdrive.Access"},
		"tenant_id":     {"REG_SZ", "11111111-2222-3333-4444-555555555555"},
		"client_id":     {"REG_SZ", "66666666-7777-8888-9999-000000000000"},
		"authority":     {"REG_SZ", "https://login.microsoftonline.com/organizations"},
		"autostart":     {"REG_DWORD", "0x1"},
		"cache_max_gb":  {"REG_SZ", "7"},
		"lease_key":     {"REG_SZ", twoLeaseKeys},
	}
	checkPolicy("install "+v1, first)
	if rv, ok := runValue(); !ok || rv.Data != `"C:\Program Files\Mapdrive\mapdrive-tray.exe" --at-login` {
		t.Errorf("install %s: Run\\Mapdrive = %+v (present %v), want the quoted tray path with --at-login", v1, rv, ok)
	}
	for _, f := range []string{"mapdrive.exe", "mapdrive-tray.exe"} {
		if !fileExists(filepath.Join(programDir, f)) {
			t.Errorf("install %s: %s\\%s missing", v1, installDir, f)
		}
	}
	// Wine resolves ProgramMenuFolder to the user's Start Menu even for
	// ALLUSERS=1 installs; Windows uses the common one. Check where the
	// installer itself says the folder is.
	menu, ok := MSILogProperty(log1, "ProgramMenuFolder")
	if !ok {
		t.Fatal("install log has no ProgramMenuFolder")
	}
	menuDir, err := w.UnixPath(menu)
	if err != nil {
		t.Fatal(err)
	}
	shortcut := filepath.Join(menuDir, "Mapdrive.lnk")
	if !fileExists(shortcut) {
		t.Errorf("install %s: Start Menu shortcut %s missing", v1, shortcut)
	}
	if ver, found := registered(pc1); !found || ver != v1 {
		t.Errorf("install %s: product %s registered %v with version %q", v1, pc1, found, ver)
	}
	if n := pathEntries(); n != 1 {
		t.Errorf("install %s: system PATH %q has %s %d times, want once", v1, systemPath(), installDir, n)
	}
	code, out, err := w.Run(ctx, installDir+`\mapdrive.exe`, "version")
	if err != nil || code != 0 || !strings.Contains(out, d.version) {
		t.Errorf("wine mapdrive.exe version: exit %d, %v, output %q; want %s", code, err, lastLines(out, 5), d.version)
	}

	// 2. Major upgrade to v2: command-line values beat the remembered ones,
	// the rest are kept; AUTOSTART=0 drops the Run key.
	msiexec("upgrade-"+v2, "/i", WinPath(msi2), "CACHEMAXGB=9", "AUTOSTART=0")
	second := map[string]RegValue{}
	for k, v := range first {
		second[k] = v
	}
	second["cache_max_gb"] = RegValue{"REG_SZ", "9"}
	second["autostart"] = RegValue{"REG_DWORD", "0x0"}
	checkPolicy("upgrade to "+v2, second)
	if rv, ok := runValue(); ok {
		t.Errorf("upgrade to %s with AUTOSTART=0: Run\\Mapdrive still %+v", v2, rv)
	}
	if _, found := registered(pc1); found {
		t.Errorf("upgrade to %s: old product %s still registered", v2, pc1)
	}

	// 3. Upgrade to the built version with no properties at all: everything,
	// including autostart off, is remembered.
	msiexec("upgrade-"+v3, "/i", WinPath(msi3))
	checkPolicy("upgrade to "+v3, second)
	if rv, ok := runValue(); ok {
		t.Errorf("upgrade to %s: remembered AUTOSTART=0 lost, Run\\Mapdrive = %+v", v3, rv)
	}
	if ver, found := registered(pc3); !found || ver != version.MSIVersion(v3) {
		t.Errorf("upgrade to %s: product %s registered %v with version %q", v3, pc3, found, ver)
	}
	if n := pathEntries(); n != 1 {
		t.Errorf("upgrade to %s: system PATH %q has %s %d times, want once", v3, systemPath(), installDir, n)
	}

	// 4. Downgrade to v1 is refused and changes nothing.
	code, log4 := msiexec("refused-downgrade-"+v1, "/i", WinPath(msi1), "CACHEMAXGB=1")
	if code != WineExit(1603) {
		t.Errorf("downgrade to %s: msiexec exit %d, want 1603 (%d under wine)", v1, code, WineExit(1603))
	}
	if got, _ := MSILogProperty(log4, "NEWERVERSIONDETECTED"); got != pc3 {
		t.Errorf("downgrade log: NEWERVERSIONDETECTED = %q, want %s", got, pc3)
	}
	if ver, found := registered(pc3); !found || ver != version.MSIVersion(v3) {
		t.Errorf("after refused downgrade: product %s registered %v version %q", pc3, found, ver)
	}
	if _, found := registered(pc1); found {
		t.Errorf("after refused downgrade: %s got registered", pc1)
	}
	checkPolicy("after refused downgrade", second)

	// 5. Uninstall leaves nothing behind.
	msiexec("uninstall-"+v3, "/x", pc3)
	if v, found, err := w.RegQuery(ctx, policyKey); err != nil || found {
		t.Errorf("after uninstall: %s exists (%v) with %v", policyKey, err, v)
	}
	if rv, ok := runValue(); ok {
		t.Errorf("after uninstall: Run\\Mapdrive = %+v", rv)
	}
	if _, found := registered(pc3); found {
		t.Errorf("after uninstall: %s still registered", pc3)
	}
	if fileExists(programDir) {
		entries, _ := os.ReadDir(programDir)
		t.Errorf("after uninstall: %s still exists with %d entries", installDir, len(entries))
	}
	if fileExists(shortcut) {
		t.Errorf("after uninstall: %s still exists", shortcut)
	}
	if n := pathEntries(); n != 0 {
		t.Errorf("after uninstall: system PATH %q still has %s", systemPath(), installDir)
	}
	t.Logf("wine install/upgrade/downgrade/uninstall cycle: %v", time.Since(start).Round(time.Millisecond))
}

// versionAbove reports whether the x.y.z version v is above a.b.c.
func versionAbove(v string, a, b, c int) bool {
	var x, y, z int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &x, &y, &z); err != nil {
		return false
	}
	if x != a {
		return x > a
	}
	if y != b {
		return y > b
	}
	return z > c
}

// addGoRuntimeShim builds testdata/bcryptprimitives.c with mingw-w64 and
// puts it in the prefix's system32: wine 8 lacks the DLL, and Go programs
// stop at start-up without its ProcessPrng.
func addGoRuntimeShim(t *testing.T, ctx context.Context, w *Wine) {
	t.Helper()
	dll := filepath.Join(w.Prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if fileExists(dll) {
		return
	}
	src, err := filepath.Abs(filepath.Join("testdata", "bcryptprimitives.c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Output(ctx, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", dll, src, "-ladvapi32"); err != nil {
		t.Fatalf("build the ProcessPrng shim: %v", err)
	}
}
