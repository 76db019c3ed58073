package m365sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func TestFacesThroughOneListener(t *testing.T) {
	s := StartForTest(t)
	tok := userToken(t, s, "contoso", "alice")
	for _, proto := range []struct {
		name   string
		client *http.Client
		major  int
	}{{"http1.1", h1Client(s), 1}, {"http2", h2Client(s), 2}} {
		t.Run(proto.name, func(t *testing.T) {
			tests := []struct {
				name, path, tok string
				want            int
				wantBody        string
			}{
				{"entra discovery", "/contoso/v2.0/.well-known/openid-configuration", "", http.StatusOK, `"issuer"`},
				{"entra multi-tenant discovery", "/organizations/v2.0/.well-known/openid-configuration", "", http.StatusOK, `{tenantid}`},
				{"graph without token", "/v1.0/me", "", http.StatusUnauthorized, ""},
				{"graph with token", "/v1.0/me", tok, http.StatusOK, ""},
				{"admin", "/_admin/info", "", http.StatusOK, `"graphUrl"`},
				{"admin unknown route", "/_admin/nope", "", http.StatusNotFound, `"itemNotFound"`},
			}
			for _, tt := range tests {
				req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+tt.path, nil)
				if tt.tok != "" {
					req.Header.Set("Authorization", "Bearer "+tt.tok)
				}
				resp, err := proto.client.Do(req)
				if err != nil {
					t.Fatalf("%s: GET %s: %v", tt.name, tt.path, err)
				}
				var body bytes.Buffer
				_, _ = body.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want || !strings.Contains(body.String(), tt.wantBody) {
					t.Errorf("%s: GET %s = %d %.200s, want %d containing %s", tt.name, tt.path, resp.StatusCode, body.String(), tt.want, tt.wantBody)
				}
				if resp.ProtoMajor != proto.major {
					t.Errorf("%s: protocol %s, want HTTP/%d", tt.name, resp.Proto, proto.major)
				}
			}
		})
	}
}

func TestCAFileIsTheOnlyTrustNeeded(t *testing.T) {
	s := StartForTest(t)
	pemData, err := os.ReadFile(filepath.Join(s.DataDir(), CAFileName))
	if err != nil {
		t.Fatal(err)
	}
	if s.CAFile() != filepath.Join(s.DataDir(), "ca.pem") {
		t.Errorf("CAFile() = %s, want <data>/ca.pem", s.CAFile())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: pool, ServerName: host})
		if err != nil {
			t.Fatalf("TLS with only ca.pem trusted, server name %s: %v", host, err)
		}
		conn.Close()
	}
	// An empty trust store must fail: the CA is what makes it work.
	_, err = tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("TLS without the CA: err = %v, want x509.UnknownAuthorityError", err)
	}
}

func TestOldTLSRefused(t *testing.T) {
	s := StartForTest(t)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MinVersion: v, MaxVersion: v})
		if err == nil {
			conn.Close()
			t.Errorf("TLS version %x accepted, want refused", v)
		}
	}
	conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	conn.Close()
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	s1, err := Start(ctx, Config{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(s1.CAFile())
	kid1 := s1.Keys().KID()
	tok := userToken(t, s1, "contoso", "alice")
	if _, err := s1.Admin().As("contoso", "alice").Upload(ctx, "", "Documents/kept.txt", []byte("still here")); err != nil {
		t.Fatalf("upload before restart: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Restart on the same port (MSAL caches by host:port). A seed given on
	// restart must be ignored: the stored directory wins.
	addr := s1.Addr().String()
	s2, err := Start(ctx, Config{Addr: addr, DataDir: dir, Seed: &directory.Seed{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ca2, _ := os.ReadFile(s2.CAFile())
	if !bytes.Equal(ca1, ca2) {
		t.Error("CA certificate changed across a restart")
	}
	if s2.BaseURL() != s1.BaseURL() {
		t.Errorf("BaseURL after restart = %s, want %s", s2.BaseURL(), s1.BaseURL())
	}
	if s2.Keys().KID() != kid1 {
		t.Error("signing key changed across a restart")
	}
	if r := do(t, h1Client(s2), http.MethodGet, s2.GraphURL()+"/me", tok, nil); r.status != http.StatusOK {
		t.Errorf("token from before the restart: GET /me = %d %s, want 200", r.status, r.body)
	}
	got, err := s2.Admin().As("contoso", "alice").Download(ctx, "", "Documents/kept.txt")
	if err != nil || string(got) != "still here" {
		t.Errorf("file after restart = %q, %v; want %q", got, err, "still here")
	}
}

func TestStartNeedsDataDir(t *testing.T) {
	if _, err := Start(context.Background(), Config{Addr: "127.0.0.1:0"}); err == nil {
		t.Error("Start without a data dir succeeded")
	}
}

func TestAddrInUse(t *testing.T) {
	s := StartForTest(t)
	_, err := Start(ctxT(t), Config{Addr: s.Addr().String(), DataDir: t.TempDir()})
	if err == nil {
		t.Fatal("second simulator on the same port started")
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		addr string
		port int
		want string
	}{
		{"localhost:9443", 9443, "https://localhost:9443"},
		{"127.0.0.1:0", 40000, "https://127.0.0.1:40000"},
		{":9443", 9443, "https://localhost:9443"},
		{"0.0.0.0:1", 1, "https://localhost:1"},
		{"[::1]:0", 5, "https://[::1]:5"},
		{"LocalHost:1", 1, "https://localhost:1"},
	}
	for _, tt := range tests {
		if got := baseURL(tt.addr, tt.port); got != tt.want {
			t.Errorf("baseURL(%q, %d) = %s, want %s", tt.addr, tt.port, got, tt.want)
		}
	}
}

func TestLocalhostListensOnBothFamilies(t *testing.T) {
	s := StartForTest(t, WithAddr("localhost:0"))
	if !strings.HasPrefix(s.BaseURL(), "https://localhost:") {
		t.Fatalf("BaseURL() = %s, want https://localhost:port", s.BaseURL())
	}
	port := s.Addr().(*net.TCPAddr).Port
	r := do(t, h1Client(s), http.MethodGet, s.BaseURL()+"/_admin/info", "", nil)
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("GET info via localhost = %d %v", r.status, r.err)
	}
	var info Info
	if err := json.Unmarshal(r.body, &info); err != nil || info.BaseURL != s.BaseURL() {
		t.Errorf("info = %+v, %v", info, err)
	}
	if len(s.lns) == 2 {
		if p := s.lns[1].Addr().(*net.TCPAddr).Port; p != port {
			t.Errorf("::1 listener on port %d, want %d", p, port)
		}
	}
}

func TestBanner(t *testing.T) {
	s := StartForTest(t)
	var b strings.Builder
	if err := s.WriteBanner(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{s.AuthorityURL("contoso"), s.GraphURL(), s.CAFile(), "/_admin/"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
	if s.AuthorityURL("contoso") != s.BaseURL()+"/contoso" || s.GraphURL() != s.BaseURL()+"/v1.0" {
		t.Errorf("AuthorityURL/GraphURL = %s, %s", s.AuthorityURL("contoso"), s.GraphURL())
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Start(ctxT(t), Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, s, "contoso", "alice")
	clients := []*http.Client{h1Client(s), h2Client(s)}
	for _, c := range clients {
		do(t, c, http.MethodGet, s.GraphURL()+"/me/drive/root/children", tok, nil)
		do(t, c, http.MethodGet, s.AuthorityURL("contoso")+"/v2.0/.well-known/openid-configuration", "", nil)
	}
	if _, err := s.Admin().As("contoso", "alice").Upload(ctxT(t), "", "x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	s.Admin().hc.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if got := DefaultDataDir(); got != filepath.Join("/var/state", "m365sim") {
		t.Errorf("DefaultDataDir() with XDG_STATE_HOME = %s", got)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // ignored, as the XDG spec says
	t.Setenv("HOME", "/home/u")
	if got := DefaultDataDir(); runtime.GOOS != "windows" && got != "/home/u/.local/state/m365sim" {
		t.Errorf("DefaultDataDir() with HOME = %s", got)
	}
}
