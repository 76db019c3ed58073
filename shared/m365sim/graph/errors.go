package graph

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// apiError is a Graph error response: status, code, inner codes, message
// and any headers it needs (Location, Retry-After, WWW-Authenticate).
type apiError struct {
	status int
	code   string
	// inner are the ever more specific codes nested under code: Graph's
	// innerError, then OneDrive's own innererror objects inside it
	// (graph-contract.md, Errors).
	inner  []string
	msg    string
	header http.Header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// withInner nests codes under the error's code, each inside the one
// before it.
func (e *apiError) withInner(codes ...string) *apiError { e.inner = codes; return e }

func (e *apiError) withHeader(k, v string) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(k, v)
	return e
}

// Frequently used errors.
func errInvalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalidRequest", format, args...)
}

func errNotFound(what string) *apiError {
	return errorf(http.StatusNotFound, "itemNotFound", "The resource could not be found: %s.", what)
}

func errDenied() *apiError {
	return errorf(http.StatusForbidden, "accessDenied", "Access denied. You do not have permission to perform this action or access this resource.")
}

func errModified() *apiError {
	return errorf(http.StatusPreconditionFailed, "resourceModified", "The resource has changed since the caller last read it; the eTag does not match.").
		withInner("entityTagDoesNotMatch")
}

func errNameExists(name string) *apiError {
	_ = name // user file names stay out of messages and logs
	return errorf(http.StatusConflict, "nameAlreadyExists", "The specified item name already exists.")
}

func errQuota() *apiError {
	return errorf(http.StatusInsufficientStorage, "quotaLimitReached", "Insufficient Space Available.")
}

// newRequestID returns a GUID-shaped request id.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeError writes err as a Graph error body. Errors that are not
// apiErrors become 500 generalException and are logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("graph request failed", "method", r.Method, "route", routeName(r), "err", err)
		ae = errorf(http.StatusInternalServerError, "generalException", "An unexpected error occurred.")
	}
	h := w.Header()
	for k, v := range ae.header {
		h[k] = v
	}
	inner := ae.inner
	if len(inner) == 0 {
		inner = []string{ae.code}
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, ae.code)
	b = append(b, `,"message":`...)
	b = appendString(b, ae.msg)
	// Graph spells its own level innerError; the detail it passes on from
	// OneDrive nests as innererror, as the OneDrive error page spells it.
	b = append(b, `,"innerError":{"code":`...)
	b = appendString(b, inner[0])
	for _, c := range inner[1:] {
		b = append(b, `,"innererror":{"code":`...)
		b = appendString(b, c)
	}
	for range inner[1:] {
		b = append(b, '}')
	}
	b = append(b, `,"date":`...)
	b = appendString(b, s.now().UTC().Format("2006-01-02T15:04:05"))
	b = append(b, `,"request-id":`...)
	b = appendString(b, h.Get("request-id"))
	b = append(b, `,"client-request-id":`...)
	b = appendString(b, h.Get("client-request-id"))
	b = append(b, "}}}"...)
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Del("ETag")
	w.WriteHeader(ae.status)
	w.Write(b)
}

// routeName is a coarse, name-free description of a request for logs.
func routeName(r *http.Request) string {
	p := r.URL.Path
	if len(p) > 40 {
		p = p[:40]
	}
	// Paths can hold file names; keep only the route's shape.
	for i, c := range p {
		if c == ':' {
			return p[:i] + ":…"
		}
	}
	return p
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
