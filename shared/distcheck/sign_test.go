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

	files := map[string]string{
		"msi":               d.msi,
		"mapdrive.exe":      filepath.Join(d.dir, "windows", "mapdrive.exe"),
		"mapdrive-tray.exe": filepath.Join(d.dir, "windows", "mapdrive-tray.exe"),
	}
	for _, f := range inside {
		files["in msi/"+filepath.Base(f)] = f
	}
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
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
	// The release path: a PKCS #12 file and its password from the
	// environment. A wrong password must fail the build.
	t.Run("PFX from the environment", func(t *testing.T) {
		requireTools(t, "openssl")
		dir := t.TempDir()
		pfx := filepath.Join(dir, "codesign.pfx")
		if out, err := exec.CommandContext(ctx, "openssl", "pkcs12", "-export", "-in", d.sign.Cert, "-inkey", d.sign.Key,
			"-out", pfx, "-passout", "pass:correct horse").CombinedOutput(); err != nil {
			t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
		}
		msi := filepath.Join(dir, "pfx.msi")
		if out, err := distMSI(d, d.version, msi, "MAPDRIVE_SIGN_PFX="+pfx, "MAPDRIVE_SIGN_PASSWORD=correct horse",
			"MAPDRIVE_SIGN_CAFILE="+d.sign.CA); err != nil {
			t.Fatalf("dist.sh msi with a PFX: %v\n%s", err, out)
		}
		if out, err := verify(ctx, d.sign.CA, msi); err != nil {
			t.Errorf("PFX-signed MSI does not verify: %v\n%s", err, lastLines(out, 10))
		}
		out, err := distMSI(d, d.version, filepath.Join(dir, "bad.msi"), "MAPDRIVE_SIGN_PFX="+pfx, "MAPDRIVE_SIGN_PASSWORD=wrong")
		if err == nil {
			t.Errorf("dist.sh msi with a wrong PFX password succeeded:\n%s", out)
		}
		if strings.Contains(string(out), "correct horse") {
			t.Error("dist.sh printed the PFX password")
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
