package auth

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
)

// TestSignInRefusesTLS11 points sign-in at an authority that speaks only
// TLS 1.0-1.1.
func TestSignInRefusesTLS11(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request %s reached the TLS 1.1 server", r.URL.Path)
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	off := false
	c, err := New(Config{Authority: srv.URL + "/contoso", ClientID: "c", CAFile: ca, InstanceDiscovery: &off,
		Keyring: keyring.New(keyring.WithBackend(keyring.NewMemory()))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LoginDeviceCode(context.Background(), func(DeviceCodePrompt) { t.Error("a device code was shown") })
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("device-code sign-in over TLS 1.1: err = %v, want a protocol version refusal", err)
	}
}
