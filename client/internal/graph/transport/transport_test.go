package transport

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startTLS starts an HTTPS server that speaks only TLS versions min..max and
// writes its certificate to a PEM file for use as the extra CA.
func startTLS(t *testing.T, min, max uint16) (url, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.TLS = &tls.Config{MinVersion: min, MaxVersion: max}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

func TestMinimumTLSVersion(t *testing.T) {
	tests := []struct {
		name     string
		min, max uint16
		wantErr  bool
	}{
		{"TLS 1.1 only is refused", tls.VersionTLS10, tls.VersionTLS11, true},
		{"TLS 1.2 is accepted", tls.VersionTLS12, tls.VersionTLS12, false},
		{"TLS 1.3 is accepted", tls.VersionTLS13, tls.VersionTLS13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, ca := startTLS(t, tt.min, tt.max)
			c, err := NewClient(ca, false)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Get(url)
			if resp != nil {
				resp.Body.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("GET over %s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("refusal %q is not about the protocol version", err)
			}
		})
	}
}

func TestExtraCA(t *testing.T) {
	url, ca := startTLS(t, tls.VersionTLS12, 0)
	// Without the extra CA the self-signed server is not trusted.
	plain, err := NewClient("", false)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := plain.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("GET without the extra CA succeeded, want an unknown-authority error")
	}
	withCA, err := NewClient(ca, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := withCA.Get(url)
	if err != nil {
		t.Fatalf("GET with the extra CA: %v", err)
	}
	resp.Body.Close()

	if _, err := TLSConfig(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("TLSConfig(missing file) succeeded")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	_ = os.WriteFile(junk, []byte("not a cert"), 0o600)
	if _, err := TLSConfig(junk); err == nil {
		t.Error("TLSConfig(file without PEM) succeeded")
	}
}

func TestNoRedirects(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	c, err := NewClient("", true)
	if err != nil {
		t.Fatal(err)
	}
	c.Transport.(*http.Transport).TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status = %d, want 302 left for the caller", resp.StatusCode)
	}
}
