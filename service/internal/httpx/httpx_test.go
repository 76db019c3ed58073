package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

func startTLS(t *testing.T, h http.Handler) (addr string, pool *x509.CertPool, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	cert, err := DevCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, TLSConfig: TLSConfig(cert), ErrorLog: nil}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, 5*time.Second) }()
	return ln.Addr().String(), pool, func() error { cancel(); return <-done }
}

// TestTLSVersions shows TLS 1.0/1.1 clients and non-AEAD TLS 1.2 suites
// refused, TLS 1.2 (ECDHE+AEAD) and 1.3 accepted.
func TestTLSVersions(t *testing.T) {
	addr, pool, stop := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer stop()
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		// Both key types, so the refusal comes from the server's suites
		// and not from a certificate that matches none of them.
		{"TLS 1.2 CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}}, false},
		{"TLS 1.2 GCM", &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}, true},
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RootCAs = pool
			tc.cfg.ServerName = "localhost"
			conn, err := tls.Dial("tcp", addr, tc.cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

// TestGracefulShutdown cancels the server while a request is in flight;
// the request completes and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	addr, pool, stop := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	if err := stop(); err != nil {
		t.Errorf("Serve after shutdown = %v", err)
	}
	if b := <-got; b != "done" {
		t.Errorf("in-flight request got %q", b)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestResponderAndDecode(t *testing.T) {
	rs := Responder{Log: slog.New(slog.DiscardHandler)}
	h := rs.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var v struct{ A int }
		if err := DecodeJSON(w, r, &v, 16); err != nil {
			return err
		}
		if v.A == 1 {
			return errors.New("db down: secret detail")
		}
		return WriteJSON(w, http.StatusOK, v)
	})
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"A":2}`, 200, ""},
		{`{"A":1}`, 500, apitype.ServiceCodeInternal},
		{`{"A":`, 400, apitype.ServiceCodeBadRequest},
		{`{"A":"x"}`, 400, apitype.ServiceCodeBadRequest},
		{`{"A":2,"B":3,"C":4444}`, 413, apitype.ServiceCodeTooLarge},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(tc.body)))
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.body, w.Code, tc.status)
		}
		if tc.code != "" {
			var p apitype.ServiceProblem
			json.Unmarshal(w.Body.Bytes(), &p)
			if p.Code != tc.code || w.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(w.Body.String(), "secret") {
				t.Errorf("%s: problem %s", tc.body, w.Body.String())
			}
		}
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewRateLimiter(1, 2, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if ok, wait := l.Allow("a"); ok != want || (!ok && wait <= 0) {
			t.Errorf("request %d: Allow = %v, %v", i, ok, wait)
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("tenant b limited by tenant a")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("no token after a second")
	}
}
