package m365sim

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadTLSCreatesAndKeeps(t *testing.T) {
	dir := t.TempDir()
	m1, err := loadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{caKeyFileName, 0o600}, {certKeyName, 0o600}, {CAFileName, 0o644}, {certFileName, 0o644}} {
		fi, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode = %v, want %v", f.name, fi.Mode().Perm(), f.mode)
		}
	}
	leaf, err := x509.ParseCertificate(m1.cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		opts := x509.VerifyOptions{Roots: m1.caPool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: m1.caPool, DNSName: "example.com"}); err == nil {
		t.Error("server certificate verifies for example.com")
	}

	ca1, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	m2, err := loadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1.cert.Certificate[0], m2.cert.Certificate[0]) {
		t.Error("server certificate reissued on a plain reload")
	}
	// A missing server certificate is reissued by the same CA.
	if err := os.Remove(filepath.Join(dir, certFileName)); err != nil {
		t.Fatal(err)
	}
	m3, err := loadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ca3, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	if !bytes.Equal(ca1, ca3) {
		t.Error("CA changed when only the server certificate was missing")
	}
	if bytes.Equal(m1.cert.Certificate[0], m3.cert.Certificate[0]) {
		t.Error("server certificate not reissued")
	}
	leaf3, _ := x509.ParseCertificate(m3.cert.Certificate[0])
	if _, err := leaf3.Verify(x509.VerifyOptions{Roots: m1.caPool, DNSName: "localhost"}); err != nil {
		t.Errorf("reissued certificate does not chain to the old CA: %v", err)
	}
}

func TestLoadTLSRejectsMismatchedCAKey(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := loadTLS(a); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTLS(b); err != nil {
		t.Fatal(err)
	}
	keyB, _ := os.ReadFile(filepath.Join(b, caKeyFileName))
	if err := os.WriteFile(filepath.Join(a, caKeyFileName), keyB, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTLS(a); err == nil {
		t.Error("loadTLS accepted a CA key that does not match ca.pem")
	}
}

func TestServerCertUsable(t *testing.T) {
	dir := t.TempDir()
	m, err := loadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, caKeyFileName))
	ca, _, err := parseCA(caPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !serverCertUsable(m.cert, ca) {
		t.Error("fresh server certificate reported unusable")
	}
	other, err := loadTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if serverCertUsable(other.cert, ca) {
		t.Error("certificate of another CA reported usable")
	}
}
