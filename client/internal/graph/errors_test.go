package graph

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestParseError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   Error
		is     []error
		isNot  []error
	}{
		{"item not found", 404, nil, `{"error":{"code":"itemNotFound","message":"The resource could not be found."}}`,
			Error{StatusCode: 404, Code: "itemNotFound", Message: "The resource could not be found.", Codes: []string{"itemNotFound"}},
			[]error{vfs.ErrNotFound}, []error{vfs.ErrExist, vfs.ErrPreconditionFailed}},
		{"name conflict", 409, nil, `{"error":{"code":"nameAlreadyExists","message":"exists"}}`,
			Error{StatusCode: 409, Code: "nameAlreadyExists", Message: "exists", Codes: []string{"nameAlreadyExists"}},
			[]error{vfs.ErrExist, vfs.ErrNameConflict}, []error{vfs.ErrNotFound}},
		{"stale eTag", 412, nil, `{"error":{"code":"resourceModified","message":"ETag does not match"}}`,
			Error{StatusCode: 412, Code: "resourceModified", Message: "ETag does not match", Codes: []string{"resourceModified"}},
			[]error{vfs.ErrPreconditionFailed}, []error{vfs.ErrExist}},
		{"quota", 507, nil, `{"error":{"code":"quotaLimitReached","message":"Insufficient Space Available"}}`,
			Error{StatusCode: 507, Code: "quotaLimitReached", Message: "Insufficient Space Available", Codes: []string{"quotaLimitReached"}},
			[]error{vfs.ErrQuotaExceeded}, nil},
		{"resync", 410, http.Header{"Location": {"https://g/v1.0/drives/d/root/delta"}},
			`{"error":{"code":"resyncRequired","message":"Resync required","innererror":{"code":"resyncChangesApplyDifferences"}}}`,
			Error{StatusCode: 410, Code: "resyncRequired", InnerCode: "resyncChangesApplyDifferences", Message: "Resync required", Location: "https://g/v1.0/drives/d/root/delta", Codes: []string{"resyncRequired", "resyncChangesApplyDifferences"}},
			[]error{vfs.ErrResyncRequired}, []error{vfs.ErrNotFound}},
		{"resync uploading differences", 410, nil,
			`{"error":{"code":"resyncRequired","message":"Resync required","innerError":{"code":"resyncChangesUploadDifferences"}}}`,
			Error{StatusCode: 410, Code: "resyncRequired", InnerCode: "resyncChangesUploadDifferences", Message: "Resync required", Codes: []string{"resyncRequired", "resyncChangesUploadDifferences"}},
			[]error{vfs.ErrResyncRequired, vfs.ErrResyncUploadDifferences}, []error{vfs.ErrNotFound}},
		{"throttled", 429, http.Header{"Retry-After": {"7"}},
			`{"error":{"code":"activityLimitReached","message":"slow down","innererror":{"code":"throttledRequest"}}}`,
			Error{StatusCode: 429, Code: "activityLimitReached", InnerCode: "throttledRequest", Message: "slow down", RetryAfter: 7 * time.Second, Codes: []string{"activityLimitReached", "throttledRequest"}},
			[]error{ErrThrottled}, []error{vfs.ErrQuotaExceeded}},
		{"access denied", 403, nil, `{"error":{"code":"accessDenied","message":"no"}}`,
			Error{StatusCode: 403, Code: "accessDenied", Message: "no", Codes: []string{"accessDenied"}}, []error{vfs.ErrAccessDenied}, nil},
		{"unauthenticated", 401, nil, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired"}}`,
			Error{StatusCode: 401, Code: "InvalidAuthenticationToken", Message: "Access token has expired", Codes: []string{"InvalidAuthenticationToken"}}, []error{vfs.ErrUnauthenticated}, nil},
		{"not JSON", 502, nil, `<html>Bad gateway</html>`,
			Error{StatusCode: 502, Message: "Bad Gateway"}, nil, []error{vfs.ErrNotFound, ErrThrottled}},
		{"invalid name", 400, nil, `{"error":{"code":"invalidRequest","message":"bad","innererror":{"code":"invalidName"}}}`,
			Error{StatusCode: 400, Code: "invalidRequest", InnerCode: "invalidName", Message: "bad", Codes: []string{"invalidRequest", "invalidName"}}, []error{vfs.ErrInvalidName}, nil},
		// Nested, in both spellings (graph-contract.md, Errors): the most
		// specific known code decides.
		{"nested both spellings", 400, nil,
			`{"error":{"code":"invalidRequest","message":"bad","innerError":{"code":"generalException","date":"x","innererror":{"code":"pathIsTooLong"}}}}`,
			Error{StatusCode: 400, Code: "invalidRequest", InnerCode: "pathIsTooLong", Message: "bad", Codes: []string{"invalidRequest", "generalException", "pathIsTooLong"}},
			[]error{vfs.ErrNameTooLong, vfs.ErrInvalidName}, []error{vfs.ErrNotFound}},
		{"inner beats status", 403, nil,
			`{"error":{"code":"accessDenied","message":"m","innerError":{"innererror":{"innerError":{"code":"quotaLimitReached"}}}}}`,
			Error{StatusCode: 403, Code: "accessDenied", InnerCode: "quotaLimitReached", Message: "m", Codes: []string{"accessDenied", "quotaLimitReached"}},
			[]error{vfs.ErrQuotaExceeded}, []error{vfs.ErrAccessDenied}},
		{"deep throttle", 503, http.Header{"Retry-After": {"2"}},
			`{"error":{"code":"serviceNotAvailable","message":"m","innerError":{"code":"generalException","innererror":{"code":"x","innererror":{"code":"throttledRequest"}}}}}`,
			Error{StatusCode: 503, Code: "serviceNotAvailable", InnerCode: "throttledRequest", Message: "m", RetryAfter: 2 * time.Second,
				Codes: []string{"serviceNotAvailable", "generalException", "x", "throttledRequest"}},
			[]error{ErrThrottled}, []error{vfs.ErrNotFound}},
		{"412 nested", 412, nil, `{"error":{"code":"resourceModified","message":"m","innerError":{"code":"entityTagDoesNotMatch"}}}`,
			Error{StatusCode: 412, Code: "resourceModified", InnerCode: "entityTagDoesNotMatch", Message: "m", Codes: []string{"resourceModified", "entityTagDoesNotMatch"}},
			[]error{vfs.ErrPreconditionFailed}, []error{vfs.ErrExist}},
		{"409 resourceModified", 409, nil, `{"error":{"code":"resourceModified","message":"m"}}`,
			Error{StatusCode: 409, Code: "resourceModified", Message: "m", Codes: []string{"resourceModified"}},
			nil, []error{vfs.ErrExist, vfs.ErrPreconditionFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			got := parseError(tt.status, h, []byte(tt.body))
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("parseError = %+v, want %+v", *got, tt.want)
			}
			// The SDK path decodes the same body to the same codes.
			if sdk, ok := sdkError(tt.status, h, []byte(tt.body)); ok {
				var se *Error
				if !errors.As(fromSDK(sdk), &se) || !slices.Equal(se.Codes, tt.want.Codes) || se.RetryAfter != tt.want.RetryAfter || se.Location != tt.want.Location {
					t.Errorf("fromSDK = %+v, want the codes %v", se, tt.want.Codes)
				}
			}
			wrapped := fmt.Errorf("list children of x: %w", got)
			for _, target := range tt.is {
				if !errors.Is(wrapped, target) {
					t.Errorf("errors.Is(%v, %v) = false, want true", got, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(wrapped, target) {
					t.Errorf("errors.Is(%v, %v) = true, want false", got, target)
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"-3", 0},
		{"soon", 0},
		{"999999999", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// sdkError parses body as the SDK does an error response; ok is false
// when the SDK cannot (not JSON).
func sdkError(status int, h http.Header, body []byte) (*odataerrors.ODataError, bool) {
	node, err := jsonserialization.NewJsonParseNode(body)
	if err != nil {
		return nil, false
	}
	v, err := node.GetObjectValue(odataerrors.CreateODataErrorFromDiscriminatorValue)
	oe, ok := v.(*odataerrors.ODataError)
	if err != nil || !ok {
		return nil, false
	}
	oe.ResponseStatusCode = status
	rh := abstractions.NewResponseHeaders()
	for k, vs := range h {
		for _, v := range vs {
			rh.Add(k, v)
		}
	}
	oe.ResponseHeaders = rh
	return oe, true
}

// FuzzParseError runs both decoding paths; the seed corpus is in
// testdata/fuzz/FuzzParseError (nested inner errors in both spellings).
func FuzzParseError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":"itemNotFound","message":"x","innererror":{"code":"y"}}}`), "5")
	f.Add(500, []byte(`not json`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(429, []byte(`{"error":null}`), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		h := http.Header{"Retry-After": {retryAfter}}
		e := parseError(status, h, body)
		if e.StatusCode != status {
			t.Fatalf("status %d became %d", status, e.StatusCode)
		}
		if e.RetryAfter < 0 || e.RetryAfter > 24*time.Hour {
			t.Fatalf("Retry-After %q gave %v", retryAfter, e.RetryAfter)
		}
		if len(e.Codes) > maxErrorDepth {
			t.Fatalf("%d codes, more than the depth bound", len(e.Codes))
		}
		if len(e.Codes) > 0 && (e.Codes[len(e.Codes)-1] != e.InnerCode && len(e.Codes) > 1) {
			t.Fatalf("InnerCode %q is not the last of %v", e.InnerCode, e.Codes)
		}
		_ = e.Error()
		for _, target := range []error{vfs.ErrNotFound, vfs.ErrExist, ErrThrottled, vfs.ErrInvalidName} {
			_ = errors.Is(e, target)
		}
		if sdk, ok := sdkError(status, h, body); ok {
			var se *Error
			if errors.As(fromSDK(sdk), &se) {
				_ = se.Error()
			}
		}
	})
}
