package distcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// verify runs osslsigncode verify against caFile.
func verify(ctx context.Context, caFile, file string) (string, error) {
	out, err := exec.CommandContext(ctx, "osslsigncode", "verify", "-CAfile", caFile, "-in", file).CombinedOutput()
	return string(out), err
}

func TestSignatures(t *testing.T) {
	d := buildDist(t)
	ctx := context.Background()

	// The exes inside the MSI must be the signed ones: extract them.
	extract := t.TempDir()
	if out, err := exec.CommandContext(ctx, "msiextract", "-C", extract, d.msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract %s: %v: %s", d.msi, err, out)
	}
	var inside []string
	filepath.Walk(extract, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".exe") {
			inside = append(inside, p)
		}
		return nil
	})
	if len(inside) != 2 {
		t.Fatalf("msiextract found %d exes (%v), want mapdrive.exe and mapdrive-tray.exe", len(inside), inside)
	}

	files := append([]string{
		d.msi,
		filepath.Join(d.dir, "windows", "mapdrive.exe"),
		filepath.Join(d.dir, "windows", "mapdrive-tray.exe"),
	}, inside...)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := verify(ctx, d.sign.CA, f)
			if err != nil || !strings.Contains(out, "Signature verification: ok") {
				t.Errorf("osslsigncode verify -CAfile %s: %v\n%s", f, err, lastLines(out, 15))
			}
		})
	}

	// The check can fail: another CA, and a changed byte, are both refused.
	t.Run("other CA refused", func(t *testing.T) {
		other, err := NewSigningCA(t.TempDir(), "Other")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := verify(ctx, other.CA, d.msi); err == nil {
			t.Errorf("verify against an unrelated CA succeeded:\n%s", lastLines(out, 10))
		}
	})
	t.Run("tampered exe refused", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(d.dir, "windows", "mapdrive.exe"))
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff // inside the code, covered by the Authenticode hash
		p := filepath.Join(t.TempDir(), "tampered.exe")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := verify(ctx, d.sign.CA, p); err == nil && strings.Contains(out, "Signature verification: ok") {
			t.Errorf("verify of a tampered exe succeeded:\n%s", lastLines(out, 10))
		}
	})
}
