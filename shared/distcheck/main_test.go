package distcheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/hermetic"
	"github.com/mapdrive/mapdrive/shared/version"
)

// The artifacts are built once per test run, by the real scripts/dist.sh,
// into a temporary folder that TestMain removes.
var (
	tmpBase   string
	distOnce  sync.Once
	distBuilt *distArtifacts
	distErr   error
)

// distArtifacts is what one scripts/dist.sh run produced.
type distArtifacts struct {
	root    string // repository root
	version string // VERSION
	dir     string // MAPDRIVE_DIST_DIR
	sign    SigningFiles
	msi     string
	deb     string
	took    time.Duration // 0 when scripts/test.sh built them
	log     string        // dist.sh's output
}

func TestMain(m *testing.M) {
	// dist.sh reads MAPDRIVE_SIGN_* and friends: only what a test sets
	// may reach it, not a developer's signing setup.
	hermetic.Clear()
	var err error
	tmpBase, err = os.MkdirTemp("", "distcheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "distcheck: temp dir:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(tmpBase)
	os.Exit(code)
}

// TestHermetic proves TestMain keeps a shell's MAPDRIVE_* away from
// dist.sh and the binaries the tests run.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }

// inCI reports whether the tests run under CI, where a missing tool is a
// failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") != "" }

// requireTools fails (under CI) or skips (elsewhere) when a tool is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if missing := MissingTools(tools...); len(missing) > 0 {
		msg := fmt.Sprintf("missing tools %v: run 'make deps' (scripts/deps-apt.sh installs them)", missing)
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// requireRoot fails (under CI) or skips when the test cannot run dpkg.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if inCI() {
			t.Fatal("installing the .deb needs root, and CI runs as root")
		}
		t.Skip("installing the .deb needs root")
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// distTools are what scripts/dist.sh needs.
var distTools = []string{"bash", "go", "wixl", "msibuild", "msiinfo", "msiextract", "osslsigncode",
	"x86_64-w64-mingw32-gcc", "dpkg-deb", "dpkg-shlibdeps", "sha256sum"}

// envPrebuilt names the folder where scripts/test.sh built the artifacts
// before any test started: dist/ (MAPDRIVE_DIST_DIR), sign/ (the
// throwaway CA it signed with) and dist.log. The tests check those
// artifacts and never rebuild them under a test timer.
const envPrebuilt = "MAPDRIVE_TEST_DIST"

// buildDist returns the artifacts scripts/test.sh built (MAPDRIVE_TEST_DIST).
// Outside CI, without that folder, it runs scripts/dist.sh once per test
// run itself, signing with a throwaway CA through the same environment
// variables a release build uses.
func buildDist(t *testing.T) *distArtifacts {
	t.Helper()
	requireTools(t, distTools...)
	root := repoRoot(t)
	distOnce.Do(func() {
		if pre := os.Getenv(envPrebuilt); pre != "" {
			distBuilt, distErr = prebuiltDist(root, pre)
			return
		}
		if inCI() {
			distErr = fmt.Errorf("%s is not set: under CI the artifacts are built by scripts/test.sh before the tests (run make test)", envPrebuilt)
			return
		}
		distBuilt, distErr = runDist(root)
	})
	if distErr != nil {
		t.Fatalf("scripts/dist.sh: %v", distErr)
	}
	return distBuilt
}

// prebuiltDist describes the artifacts scripts/test.sh left in dir.
func prebuiltDist(root, dir string) (*distArtifacts, error) {
	version, err := ReadVersion(root)
	if err != nil {
		return nil, err
	}
	d := &distArtifacts{
		root: root, version: version, dir: filepath.Join(dir, "dist"), log: filepath.Join(dir, "dist.log"),
		sign: SigningFiles{
			CA:   filepath.Join(dir, "sign", "ca.pem"),
			Cert: filepath.Join(dir, "sign", "signing.pem"),
			Key:  filepath.Join(dir, "sign", "signing.key"),
		},
	}
	return d, d.check()
}

func runDist(root string) (*distArtifacts, error) {
	version, err := ReadVersion(root)
	if err != nil {
		return nil, err
	}
	d := &distArtifacts{root: root, version: version, dir: filepath.Join(tmpBase, "dist"), log: filepath.Join(tmpBase, "dist.log")}
	signDir := filepath.Join(tmpBase, "sign")
	if err := os.MkdirAll(signDir, 0o700); err != nil {
		return nil, fmt.Errorf("mkdir %s: %w", signDir, err)
	}
	if d.sign, err = NewSigningCA(signDir, "Mapdrive"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "dist.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"MAPDRIVE_DIST_DIR="+d.dir,
		"MAPDRIVE_SIGN_CERT="+d.sign.Cert,
		"MAPDRIVE_SIGN_KEY="+d.sign.Key,
		"MAPDRIVE_SIGN_CAFILE="+d.sign.CA,
		"MAPDRIVE_SIGN_REQUIRED=1",
		"MAPDRIVE_DEB_XZ_LEVEL=1",
	)
	logPath := d.log
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	runErr := cmd.Run()
	d.took = time.Since(start)
	if runErr != nil {
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("failed after %v: %w\n%s", d.took.Round(time.Second), runErr, lastLines(string(log), 40))
	}
	return d, d.check()
}

// check fills in the package paths and makes sure they exist.
func (d *distArtifacts) check() error {
	d.msi = filepath.Join(d.dir, "mapdrive-"+version.MSIVersion(d.version)+"-x64.msi")
	d.deb = filepath.Join(d.dir, "mapdrive_"+DebVersion(d.version)+"_amd64.deb")
	for _, p := range []string{d.msi, d.deb, d.sign.CA, d.sign.Cert, d.sign.Key} {
		if !fileExists(p) {
			return fmt.Errorf("the artifacts in %s lack %s", d.dir, p)
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDistBuild reports how long the build took and checks the artifacts
// every release carries.
func TestDistBuild(t *testing.T) {
	d := buildDist(t)
	if d.took > 0 {
		t.Logf("scripts/dist.sh took %v (built once, shared by the tests)", d.took.Round(time.Second))
	} else {
		t.Logf("artifacts built by scripts/test.sh before the tests (its step times: artifacts/test-times.txt)")
	}
	if b, err := os.ReadFile(d.log); err == nil {
		var steps []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "dist: [") {
				steps = append(steps, l)
			}
		}
		t.Logf("build steps:\n%s", strings.Join(steps, "\n"))
	}
	for _, name := range []string{
		"windows/mapdrive.exe", "windows/mapdrive-tray.exe",
		filepath.Base(d.msi), filepath.Base(d.deb),
		"mapdrive-service_" + d.version + "_linux_amd64.tar.gz",
		"msi-product-code.txt", "SHA256SUMS", "admx/Mapdrive.admx", "admx/en-US/Mapdrive.adml",
	} {
		if !fileExists(filepath.Join(d.dir, name)) {
			t.Errorf("dist is missing %s", name)
		}
	}
	pc, err := os.ReadFile(filepath.Join(d.dir, "msi-product-code.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(pc)), "{"+version.ProductCode(d.version)+"}"; got != want {
		t.Errorf("msi-product-code.txt = %s, want %s", got, want)
	}
	t.Logf("MSI ProductCode for %s: {%s}", d.version, version.ProductCode(d.version))
	// sha256sum resolves the listed names relative to its working directory.
	sums := exec.Command("sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS")
	sums.Dir = d.dir
	if out, err := sums.CombinedOutput(); err != nil {
		t.Errorf("SHA256SUMS does not check: %v: %s", err, out)
	}
	// macOS: either the CLI+agent built without cgo, or the reason is recorded.
	arm := filepath.Join(d.dir, "mapdrive_"+d.version+"_darwin_arm64.tar.gz")
	why := filepath.Join(d.dir, "darwin-UNAVAILABLE.txt")
	switch {
	case fileExists(arm):
		t.Logf("darwin/arm64 CLI+agent built: %s", filepath.Base(arm))
	case fileExists(why):
		b, _ := os.ReadFile(why)
		t.Logf("darwin not built:\n%s", lastLines(string(b), 8))
	default:
		t.Errorf("neither %s nor %s exists", arm, why)
	}
}
