// Package distcheck inspects the release artifacts that scripts/dist.sh
// builds (the signed MSI, the .deb, the Authenticode signatures) with the
// same Linux tools the build uses: msiinfo, osslsigncode, dpkg-deb, and
// wine's msiexec and reg. Its tests build the artifacts once per run and
// check them; the functions here are the small parsers and helpers they need.
package distcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RepoRoot walks up from dir to the folder holding VERSION and
// scripts/dist.sh.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("absolute path of %s: %w", dir, err)
	}
	for {
		if fileExists(filepath.Join(d, "VERSION")) && fileExists(filepath.Join(d, "scripts", "dist.sh")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no repository root (VERSION and scripts/dist.sh) above %s", dir)
		}
		d = parent
	}
}

// ReadVersion returns the trimmed contents of root/VERSION.
func ReadVersion(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("read VERSION: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", errors.New("VERSION is empty")
	}
	return v, nil
}

// DebVersion returns v in Debian's ordering: a pre-release "-rc.1" becomes
// "~rc.1" so that it sorts before the release.
func DebVersion(v string) string { return strings.Replace(v, "-", "~", 1) }

// MissingTools returns the names among tools that are neither on PATH nor
// an existing absolute path.
func MissingTools(tools ...string) []string {
	var missing []string
	for _, t := range tools {
		if filepath.IsAbs(t) {
			if !fileExists(t) {
				missing = append(missing, t)
			}
			continue
		}
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

// Output runs name with args and returns its standard output. The error
// carries the command and its standard error.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
