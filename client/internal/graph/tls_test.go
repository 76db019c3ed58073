package graph

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestClientRefusesTLS11 points a whole Client (SDK calls and plain
// content requests) at a server that speaks only TLS 1.0-1.1.
func TestClientRefusesTLS11(t *testing.T) {
	var reached atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","displayName":"x"}`))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Base: srv.URL + "/v1.0", Tokens: &fakeTokens{}, CAFile: ca, Pacer: PacerOptions{MaxErrorRetries: 1, BaseBackoff: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Me(ctx); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("Me over TLS 1.1: err = %v, want a protocol version refusal", err)
	}
	if _, err := NewDrive(c, "d").ReadRange(ctx, srv.URL+"/_download/x", 0, 10); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("ReadRange over TLS 1.1: err = %v, want a protocol version refusal", err)
	}
	if reached.Load() {
		t.Error("a request reached the TLS 1.1 server")
	}
}
