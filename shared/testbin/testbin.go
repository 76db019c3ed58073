// Package testbin hands tests the project's binaries. `make test` builds
// them once, before any test starts, and names their folder in
// MAPDRIVE_TEST_BIN; a test then runs the same binaries the demo and the
// packages ship, and no test spends its own timer compiling.
//
// Without MAPDRIVE_TEST_BIN (a developer running `go test` on one package)
// the binaries are built on demand into a temporary folder. Under CI that
// fallback is refused: a CI run that compiled inside a test would hide the
// build step that scripts/test.sh times.
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// EnvDir names the folder of prebuilt binaries.
const EnvDir = "MAPDRIVE_TEST_BIN"

// packages maps each binary to its main package, relative to the
// repository root: the commands `make bin` builds (./*/cmd/...).
var packages = map[string]string{
	"m365sim":          "./shared/cmd/m365sim",
	"mapdrive":         "./client/cmd/mapdrive",
	"mapdrive-tray":    "./client/cmd/mapdrive-tray",
	"mapdrive-service": "./service/cmd/mapdrive-service",
}

// Finder finds or builds binaries. The zero value is ready; share one per
// test binary so each program is built at most once.
type Finder struct {
	mu    sync.Mutex
	built map[string]string
	tmp   string
}

// Path returns the path of the named binary (see packages).
func (f *Finder) Path(name string) (string, error) {
	pkg, ok := packages[name]
	if !ok {
		return "", fmt.Errorf("testbin: unknown binary %q", name)
	}
	if dir := os.Getenv(EnvDir); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("testbin: %s=%s has no %s (scripts/test.sh builds it): %w", EnvDir, dir, name, err)
		}
		return p, nil
	}
	if os.Getenv("CI") != "" {
		return "", fmt.Errorf("testbin: %s is not set under CI: run the tests through `make test`, which builds %s before the tests start", EnvDir, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.built[name]; ok {
		return p, nil
	}
	if f.tmp == "" {
		d, err := os.MkdirTemp("", "mapdrive-testbin-")
		if err != nil {
			return "", fmt.Errorf("testbin: temp dir: %w", err)
		}
		f.tmp = d
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("testbin: the go tool is needed to build %s (or set %s): %w", name, EnvDir, err)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(f.tmp, name)
	cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testbin: go build %s: %w\n%s", pkg, err, b)
	}
	if f.built == nil {
		f.built = map[string]string{}
	}
	f.built[name] = out
	return out, nil
}

// Close removes binaries built on demand.
func (f *Finder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tmp != "" {
		os.RemoveAll(f.tmp)
		f.tmp = ""
		f.built = nil
	}
}

// RepoRoot is the repository root: the folder holding go.work, found from
// this source file's place in the tree.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("testbin: cannot locate the source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		return "", fmt.Errorf("testbin: no go.work at %s: %w", root, err)
	}
	return root, nil
}
