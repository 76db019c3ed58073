package graph

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

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
			Error{StatusCode: 404, Code: "itemNotFound", Message: "The resource could not be found."},
			[]error{vfs.ErrNotFound}, []error{vfs.ErrExist, vfs.ErrPreconditionFailed}},
		{"name conflict", 409, nil, `{"error":{"code":"nameAlreadyExists","message":"exists"}}`,
			Error{StatusCode: 409, Code: "nameAlreadyExists", Message: "exists"},
			[]error{vfs.ErrExist, vfs.ErrNameConflict}, []error{vfs.ErrNotFound}},
		{"stale eTag", 412, nil, `{"error":{"code":"resourceModified","message":"ETag does not match"}}`,
			Error{StatusCode: 412, Code: "resourceModified", Message: "ETag does not match"},
			[]error{vfs.ErrPreconditionFailed}, []error{vfs.ErrExist}},
		{"quota", 507, nil, `{"error":{"code":"quotaLimitReached","message":"Insufficient Space Available"}}`,
			Error{StatusCode: 507, Code: "quotaLimitReached", Message: "Insufficient Space Available"},
			[]error{vfs.ErrQuotaExceeded}, nil},
		{"resync", 410, http.Header{"Location": {"https://g/v1.0/drives/d/root/delta"}},
			`{"error":{"code":"resyncRequired","message":"Resync required","innererror":{"code":"resyncChangesApplyDifferences"}}}`,
			Error{StatusCode: 410, Code: "resyncRequired", InnerCode: "resyncChangesApplyDifferences", Message: "Resync required", Location: "https://g/v1.0/drives/d/root/delta"},
			[]error{vfs.ErrResyncRequired}, []error{vfs.ErrNotFound}},
		{"throttled", 429, http.Header{"Retry-After": {"7"}},
			`{"error":{"code":"activityLimitReached","message":"slow down","innererror":{"code":"throttledRequest"}}}`,
			Error{StatusCode: 429, Code: "activityLimitReached", InnerCode: "throttledRequest", Message: "slow down", RetryAfter: 7 * time.Second},
			[]error{ErrThrottled}, []error{vfs.ErrQuotaExceeded}},
		{"access denied", 403, nil, `{"error":{"code":"accessDenied","message":"no"}}`,
			Error{StatusCode: 403, Code: "accessDenied", Message: "no"}, []error{vfs.ErrAccessDenied}, nil},
		{"unauthenticated", 401, nil, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired"}}`,
			Error{StatusCode: 401, Code: "InvalidAuthenticationToken", Message: "Access token has expired"}, []error{vfs.ErrUnauthenticated}, nil},
		{"not JSON", 502, nil, `<html>Bad gateway</html>`,
			Error{StatusCode: 502, Message: "Bad Gateway"}, nil, []error{vfs.ErrNotFound, ErrThrottled}},
		{"invalid name", 400, nil, `{"error":{"code":"invalidRequest","message":"bad","innererror":{"code":"invalidName"}}}`,
			Error{StatusCode: 400, Code: "invalidRequest", InnerCode: "invalidName", Message: "bad"}, []error{vfs.ErrInvalidName}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			got := parseError(tt.status, h, []byte(tt.body))
			if *got != tt.want {
				t.Errorf("parseError = %+v, want %+v", *got, tt.want)
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

func FuzzParseError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":"itemNotFound","message":"x","innererror":{"code":"y"}}}`), "5")
	f.Add(500, []byte(`not json`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(429, []byte(`{"error":null}`), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		e := parseError(status, http.Header{"Retry-After": {retryAfter}}, body)
		if e.StatusCode != status {
			t.Fatalf("status %d became %d", status, e.StatusCode)
		}
		if e.RetryAfter < 0 || e.RetryAfter > 24*time.Hour {
			t.Fatalf("Retry-After %q gave %v", retryAfter, e.RetryAfter)
		}
		_ = e.Error()
	})
}
