// Package transport builds the HTTP clients Mapdrive uses to reach
// Microsoft 365 (sign-in, Graph, download and upload URLs): TLS 1.2 at
// least, the system roots plus an optional extra CA (m365sim's, or a
// corporate TLS-inspection root). It is a leaf package so that the auth
// package can use it without pulling in the Graph SDK.
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// MinTLSVersion is the lowest TLS version any Mapdrive client accepts.
const MinTLSVersion = tls.VersionTLS12

// TLS12Suites are the TLS 1.2 cipher suites a Mapdrive client offers:
// ECDHE key exchange with AEAD ciphers only. Go's defaults would also
// offer CBC suites. (TLS 1.3 suites are all AEAD and not configurable.)
var TLS12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns a TLS configuration with MinTLSVersion, TLS12Suites
// and the system root pool, plus the PEM certificates in caFile when
// caFile is not empty.
func TLSConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: MinTLSVersion, CipherSuites: TLS12Suites}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read extra CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("extra CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// NewTransport returns an http.Transport for Microsoft 365 endpoints: the
// TLS configuration of TLSConfig, HTTP/2 when the server offers it, and
// timeouts on dialling and handshakes (a request's own deadline comes from
// its context).
func NewTransport(caFile string) (*http.Transport, error) {
	tc, err := TLSConfig(caFile)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}, nil
}

// NewClient returns an http.Client over NewTransport. It does not follow
// redirects when noRedirects is set (Graph's /content answers 302 to a
// pre-authenticated URL the caller wants to see).
func NewClient(caFile string, noRedirects bool) (*http.Client, error) {
	t, err := NewTransport(caFile)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: t}
	if noRedirects {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c, nil
}
