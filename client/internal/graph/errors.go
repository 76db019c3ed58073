package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// Error is an error answer from Microsoft Graph (or from a download or
// upload URL), decoded from {"error":{"code","message","innererror":{...}}}.
// errors.Is matches it against the vfs sentinel errors, deciding on the most
// specific code it knows.
type Error struct {
	StatusCode int
	Code       string // e.g. itemNotFound, nameAlreadyExists, resyncRequired
	// InnerCode is the most specific (innermost) inner code, e.g.
	// throttledRequest, resyncChangesApplyDifferences, fragmentOverlap.
	InnerCode string
	// Codes holds every code, from Code to InnerCode, in nesting order.
	Codes   []string
	Message string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
	// Location is the Location header (a 410 resync's fresh enumeration).
	Location string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: HTTP %d", e.StatusCode)
	for i, c := range e.Codes {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString("/")
		}
		b.WriteString(c)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is maps Graph's answer onto the vfs sentinels: the most specific code
// that names a kind of failure decides; the status decides when no code
// does.
func (e *Error) Is(target error) bool {
	if e.StatusCode == http.StatusLocked && errors.Is(vfs.ErrLocked, target) {
		// 423 is SharePoint's answer to a change of a file checked out
		// by someone else, whatever its code (docs/checkout.md).
		return true
	}
	for i := len(e.Codes) - 1; i >= 0; i-- {
		if kind, known := codeKind(e.Codes[i]); known {
			if kind == nil {
				break
			}
			// kind == target, or a kind that is a narrower case of
			// target (ErrNameTooLong is an ErrInvalidName, upload
			// differences a resync).
			return errors.Is(kind, target)
		}
	}
	return e.statusIs(target)
}

// codeKind names what a Graph error code means. known is false for codes
// too general to decide (invalidRequest, generalException), so that an
// outer code or the status decides; a known code with a nil kind is one
// that must not be taken for any sentinel (resourceModified on a 409).
func codeKind(code string) (kind error, known bool) {
	c := strings.ToLower(code)
	switch c {
	case "itemnotfound":
		return vfs.ErrNotFound, true
	case "namealreadyexists":
		return vfs.ErrExist, true
	case "resourcemodified":
		// A 412 says "precondition failed"; a 409 with this code says a
		// concurrent change, which is not a name conflict either.
		return nil, true
	case "entitytagdoesnotmatch":
		return vfs.ErrPreconditionFailed, true
	case "quotalimitreached", "insufficientstorage":
		return vfs.ErrQuotaExceeded, true
	case "resyncchangesuploaddifferences", "resyncuploaddifferences":
		return vfs.ErrResyncUploadDifferences, true
	case "resyncrequired", "resyncchangesapplydifferences", "resyncapplydifferences":
		return vfs.ErrResyncRequired, true
	case "unauthenticated", "invalidauthenticationtoken":
		return vfs.ErrUnauthenticated, true
	case "resourcelocked":
		return vfs.ErrLocked, true
	case "accessdenied", "notallowed", "accessrestricted":
		return vfs.ErrAccessDenied, true
	case "foldernotempty":
		return vfs.ErrNotEmpty, true
	case "activitylimitreached", "throttledrequest":
		return ErrThrottled, true
	case "pathistoolong":
		return vfs.ErrNameTooLong, true
	case "namecontainsinvalidcharacters":
		return vfs.ErrInvalidName, true
	}
	if strings.Contains(c, "invalidname") {
		return vfs.ErrInvalidName, true
	}
	return nil, false
}

// statusIs maps a status without a decisive code.
func (e *Error) statusIs(target error) bool {
	switch target {
	case vfs.ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case vfs.ErrExist:
		return e.StatusCode == http.StatusConflict && !strings.EqualFold(e.Code, "resourceModified")
	case vfs.ErrPreconditionFailed:
		return e.StatusCode == http.StatusPreconditionFailed
	case vfs.ErrQuotaExceeded:
		return e.StatusCode == http.StatusInsufficientStorage
	case vfs.ErrResyncRequired:
		return e.StatusCode == http.StatusGone
	case vfs.ErrUnauthenticated:
		return e.StatusCode == http.StatusUnauthorized
	case vfs.ErrAccessDenied:
		return e.StatusCode == http.StatusForbidden
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusServiceUnavailable && e.RetryAfter > 0)
	}
	return false
}

// ErrThrottled matches Graph errors that ask the client to slow down (429,
// or 503 with Retry-After) and that the pacer gave up retrying.
var ErrThrottled = errors.New("throttled by Microsoft 365")

// maxErrorDepth bounds how deep inner errors are followed.
const maxErrorDepth = 32

// decodeError reads an error response (status >= 400) and closes its body.
func decodeError(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return parseError(resp.StatusCode, resp.Header, body)
}

// parseError builds an Error from a status, headers and a body that may or
// may not be Graph's error JSON.
func parseError(status int, h http.Header, body []byte) *Error {
	var env struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		env.Error = nil
	}
	return newError(status, h.Get("Retry-After"), h.Get("Location"), env.Error)
}

// newError is the one decoder of Graph's error object, whichever way it
// arrived: obj is the object under "error", as encoding/json (plain HTTP
// calls) or the SDK's additional data (strings as *string) hold it. Inner
// errors are followed in both spellings, innererror and innerError,
// however deep (graph-contract.md, Errors).
func newError(status int, retryAfter, location string, obj map[string]any) *Error {
	e := &Error{StatusCode: status, RetryAfter: parseRetryAfter(retryAfter, time.Now()), Location: location}
	for depth := 0; obj != nil && depth < maxErrorDepth; depth++ {
		if depth == 0 {
			e.Message = str(obj["message"])
		}
		if c := str(obj["code"]); c != "" {
			if depth == 0 {
				e.Code = c
			} else {
				e.InnerCode = c
			}
			e.Codes = append(e.Codes, c)
		}
		obj = innerOf(obj)
	}
	if e.Code == "" && e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// innerOf returns the inner error object of obj, in either spelling.
func innerOf(obj map[string]any) map[string]any {
	for k, v := range obj {
		if strings.EqualFold(k, "innererror") {
			if m, ok := v.(map[string]any); ok {
				return m
			}
		}
	}
	return nil
}

// str reads a string the way either decoder holds it.
func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case *string:
		return deref(s)
	}
	return ""
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
		var obj map[string]any
		if me := oe.GetErrorEscaped(); me != nil {
			// The SDK models only innerError; innererror, and every level
			// below the first, stay in additional data as plain maps.
			obj = map[string]any{}
			maps.Copy(obj, me.GetAdditionalData())
			obj["code"], obj["message"] = me.GetCode(), me.GetMessage()
			if ie := me.GetInnerError(); ie != nil {
				obj["innerError"] = ie.GetAdditionalData()
			}
		}
		return newError(oe.ResponseStatusCode, header(oe.ResponseHeaders, "Retry-After"), header(oe.ResponseHeaders, "Location"), obj)
	}
	var ae *abstractions.ApiError
	if errors.As(err, &ae) && ae.ResponseStatusCode >= 400 {
		e := newError(ae.ResponseStatusCode, header(ae.ResponseHeaders, "Retry-After"), header(ae.ResponseHeaders, "Location"), nil)
		e.Message = ae.Message
		return e
	}
	return err
}

// header returns the first value of the response header k, if any.
func header(h *abstractions.ResponseHeaders, k string) string {
	if h == nil {
		return ""
	}
	for _, key := range h.ListKeys() {
		if strings.EqualFold(key, k) {
			if v := h.Get(key); len(v) > 0 {
				return v[0]
			}
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// authError gives a token failure its failure kind. Signed out, expired
// and offline carry theirs already (auth returns the failure package's
// kinds); a tenant that wants an administrator's consent is a sign-in
// that no longer works, as far as the filesystem can tell.
func authError(err error) error {
	if errors.Is(err, auth.ErrConsentRequired) && !errors.Is(err, failure.SignInExpired) {
		return fmt.Errorf("%w: %w", failure.SignInExpired, err)
	}
	return err
}
