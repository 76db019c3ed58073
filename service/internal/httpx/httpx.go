// Package httpx is the service's HTTP plumbing: TLS settings, the server
// run loop with graceful shutdown, handlers that return errors rendered as
// application/problem+json, JSON decoding with size limits, per-key rate
// limiting, request logging and Prometheus metrics. It knows nothing of
// tenants or tokens beyond the labels handlers put on a request.
package httpx

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// TLSConfig returns the server's TLS settings: TLS 1.2 at least, and for
// TLS 1.2 only ECDHE key exchange with AEAD ciphers (TLS 1.3 suites are
// all modern and not configurable).
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: it
// stops accepting, lets requests in flight finish for up to grace, and
// returns nil after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Error is an error a handler returns to answer with a problem document.
type Error struct {
	Status     int
	Code       string // apitype.ServiceCode*
	Detail     string // safe to show to the user; never personal data
	RetryAfter time.Duration
	// WWWAuthenticate is sent on 401 answers.
	WWWAuthenticate string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// Errorf returns an *Error.
func Errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, a...)}
}

// HandlerFunc is a handler that returns its error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Responder turns handler errors into problem+json answers. An error that
// is not an *Error is a 500; its text is logged, not sent.
type Responder struct {
	Log *slog.Logger
}

// Handle adapts f to http.Handler.
func (rs Responder) Handle(f HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := f(w, r)
		if err == nil {
			return
		}
		var he *Error
		if !errors.As(err, &he) {
			rs.Log.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err)
			he = Errorf(http.StatusInternalServerError, apitype.ServiceCodeInternal, "internal error")
		}
		WriteProblem(w, he)
	})
}

// WriteProblem writes e as application/problem+json.
func WriteProblem(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.WWWAuthenticate != "" {
		w.Header().Set("WWW-Authenticate", e.WWWAuthenticate)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(apitype.ServiceProblem{
		Type: "https://mapdrive.dev/problems/" + e.Code, Title: http.StatusText(e.Status), Status: e.Status, Detail: e.Detail, Code: e.Code,
	})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// DecodeJSON decodes the request body, at most limit bytes, into v: one
// JSON object with no unknown fields. Errors are *Error: 413 over the
// limit, 400 for anything malformed.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if r.ContentLength > limit {
		return Errorf(http.StatusRequestEntityTooLarge, apitype.ServiceCodeTooLarge, "the request body is larger than %d bytes", limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Errorf(http.StatusRequestEntityTooLarge, apitype.ServiceCodeTooLarge, "the request body is larger than %d bytes", limit)
		}
		return Errorf(http.StatusBadRequest, apitype.ServiceCodeBadRequest, "malformed JSON body: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Errorf(http.StatusRequestEntityTooLarge, apitype.ServiceCodeTooLarge, "the request body is larger than %d bytes", limit)
		}
		return Errorf(http.StatusBadRequest, apitype.ServiceCodeBadRequest, "malformed JSON body: trailing data after the object")
	}
	return nil
}

// jsonErrorText describes a decode error without echoing input values.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of body"
	default:
		msg := err.Error()
		if len(msg) > 80 {
			msg = msg[:80]
		}
		return msg // e.g. `json: unknown field "x"`: the field name only
	}
}
