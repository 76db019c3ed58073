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

	"github.com/mapdrive/mapdrive/client/internal/graph/transport"
)

// TestClientRefusesTLS11 points a whole Client (SDK calls and plain
// content requests) at a server that speaks only TLS 1.0-1.1.
func TestClientRefusesTLS11(t *testing.T) {
	// Go's own client default refuses TLS 1.1 as well (GODEBUG cannot
	// lower it for clients): this documents the whole client, and
	// TestClientRefusesTLS12CBC proves the project's own setting.
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

// TestClientRefusesTLS12CBC points the Graph client and the service client
// (svcclient uses the same transport) at a TLS 1.2 server that offers only
// ECDHE with CBC: Go's default client would accept it; Mapdrive offers
// AEAD suites only (transport.TLS12Suites) and refuses.
func TestClientRefusesTLS12CBC(t *testing.T) {
	var reached atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","displayName":"x"}`))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}
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
	if _, err := c.Me(context.Background()); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Errorf("Me over TLS 1.2 CBC: err = %v, want a handshake failure", err)
	}
	hc, err := transport.NewClient(ca, false)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := hc.Get(srv.URL + "/v1/lease-key"); err == nil {
		resp.Body.Close()
		t.Error("the service client's transport completed a TLS 1.2 CBC handshake")
	}
	if reached.Load() {
		t.Error("a request reached the CBC-only server")
	}
}
