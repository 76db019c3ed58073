package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// Error is an error answer from Microsoft Graph (or from a download or
// upload URL), decoded from {"error":{"code","message","innererror":{"code"}}}.
// errors.Is matches it against the vfs sentinel errors.
type Error struct {
	StatusCode int
	Code       string // e.g. itemNotFound, nameAlreadyExists, resyncRequired
	InnerCode  string // e.g. throttledRequest, resyncChangesApplyDifferences
	Message    string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
	// Location is the Location header (a 410 resync's fresh enumeration).
	Location string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.InnerCode != "" {
		b.WriteString("/" + e.InnerCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is maps Graph's answer onto the vfs sentinels.
func (e *Error) Is(target error) bool {
	code := strings.ToLower(e.Code)
	inner := strings.ToLower(e.InnerCode)
	switch target {
	case vfs.ErrNotFound:
		return e.StatusCode == http.StatusNotFound || code == "itemnotfound"
	case vfs.ErrExist:
		return code == "namealreadyexists" || (e.StatusCode == http.StatusConflict && code != "resourcemodified")
	case vfs.ErrPreconditionFailed:
		return e.StatusCode == http.StatusPreconditionFailed
	case vfs.ErrQuotaExceeded:
		return e.StatusCode == http.StatusInsufficientStorage || code == "quotalimitreached"
	case vfs.ErrResyncRequired:
		return e.StatusCode == http.StatusGone || code == "resyncrequired"
	case vfs.ErrUnauthenticated:
		return e.StatusCode == http.StatusUnauthorized || code == "unauthenticated"
	case vfs.ErrAccessDenied:
		return e.StatusCode == http.StatusForbidden || code == "accessdenied" || code == "notallowed"
	case vfs.ErrInvalidName:
		return strings.Contains(code, "invalidname") || strings.Contains(inner, "invalidname") ||
			strings.Contains(inner, "namecontainsinvalidcharacters") || inner == "pathistoolong"
	case vfs.ErrNotEmpty:
		return inner == "foldernotempty"
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusServiceUnavailable && e.RetryAfter > 0) || code == "activitylimitreached"
	}
	return false
}

// ErrThrottled matches Graph errors that ask the client to slow down (429,
// or 503 with Retry-After) and that the pacer gave up retrying.
var ErrThrottled = errors.New("throttled by Microsoft 365")

// errorBody is Graph's JSON error envelope.
type errorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

// decodeError reads an error response (status >= 400) and closes its body.
func decodeError(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return parseError(resp.StatusCode, resp.Header, body)
}

// parseError builds an Error from a status, headers and a body that may or
// may not be Graph's error JSON.
func parseError(status int, h http.Header, body []byte) *Error {
	e := &Error{StatusCode: status, RetryAfter: parseRetryAfter(h.Get("Retry-After"), time.Now()), Location: h.Get("Location")}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code = eb.Error.Code
		e.Message = eb.Error.Message
		if eb.Error.InnerError != nil {
			e.InnerCode = eb.Error.InnerError.Code
		}
	}
	if e.Code == "" && e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 24*3600 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// fromSDK turns an error from an msgraph-sdk-go call into an *Error
// (keeping transport errors such as vfs.ErrOffline as they are).
func fromSDK(err error) error {
	if err == nil {
		return nil
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		e := &Error{StatusCode: oe.ResponseStatusCode}
		if me := oe.GetErrorEscaped(); me != nil {
			e.Code = deref(me.GetCode())
			e.Message = deref(me.GetMessage())
			if ie := me.GetInnerError(); ie != nil {
				if c, ok := ie.GetAdditionalData()["code"].(*string); ok {
					e.InnerCode = deref(c)
				}
			}
		}
		headersInto(e, oe.ResponseHeaders)
		return e
	}
	var ae *abstractions.ApiError
	if errors.As(err, &ae) && ae.ResponseStatusCode >= 400 {
		e := &Error{StatusCode: ae.ResponseStatusCode, Message: ae.Message}
		headersInto(e, ae.ResponseHeaders)
		return e
	}
	return err
}

func headersInto(e *Error, h *abstractions.ResponseHeaders) {
	if h == nil {
		return
	}
	for _, k := range h.ListKeys() {
		switch strings.ToLower(k) {
		case "retry-after":
			if v := h.Get(k); len(v) > 0 {
				e.RetryAfter = parseRetryAfter(v[0], time.Now())
			}
		case "location":
			if v := h.Get(k); len(v) > 0 {
				e.Location = v[0]
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// authError maps a token failure to what the filesystem understands.
func authError(err error) error {
	if errors.Is(err, auth.ErrSignInExpired) || errors.Is(err, auth.ErrNotSignedIn) || errors.Is(err, auth.ErrConsentRequired) {
		return fmt.Errorf("%w: %w", vfs.ErrUnauthenticated, err)
	}
	if errors.Is(err, auth.ErrOffline) {
		return fmt.Errorf("%w: %w", vfs.ErrOffline, err)
	}
	return err
}
