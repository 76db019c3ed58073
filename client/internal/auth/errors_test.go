package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
)

func newTestClient(t *testing.T, authority string) *Client {
	t.Helper()
	c, err := New(Config{Authority: authority, ClientID: "4b0d3b5c-6f2e-4c1a-9d6e-3a2f1e0c7b11",
		Keyring: keyring.New(keyring.WithBackend(keyring.NewMemory()))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// callErr builds the error MSAL returns when the token endpoint answers
// status with body.
func callErr(status int, body string) error {
	return msalerrors.CallErr{
		Req:  &http.Request{URL: &url.URL{Scheme: "https", Host: "login.test", Path: "/token"}},
		Resp: &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewBufferString(body))},
		Err:  fmt.Errorf("http call(https://login.test/token)(POST) error: reply status code was %d:\n%s", status, body),
	}
}

func TestClassify(t *testing.T) {
	c := newTestClient(t, "https://login.microsoftonline.com/organizations/")
	wantURL := "https://login.microsoftonline.com/organizations/adminconsent?client_id=4b0d3b5c-6f2e-4c1a-9d6e-3a2f1e0c7b11"
	tests := []struct {
		name    string
		err     error
		is      error
		inMsg   []string
		consent bool
	}{
		{"consent 65001 from the token endpoint",
			callErr(400, `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented to use the application.","error_codes":[65001]}`),
			ErrConsentRequired, []string{wantURL, "administrator"}, true},
		{"admin approval 90094 from the interactive redirect (description only)",
			errors.New("AADSTS90094: An administrator of Northwind has set a policy that prevents you from granting Mapdrive the permissions it is requesting."),
			ErrConsentRequired, []string{wantURL}, true},
		{"refresh token expired",
			callErr(400, `{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.","error_codes":[700082]}`),
			ErrSignInExpired, []string{"mapdrive login"}, false},
		{"revoked",
			callErr(400, `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173]}`),
			ErrSignInExpired, []string{"sign in again with `mapdrive login`"}, false},
		{"MFA now required", callErr(400, `{"error":"interaction_required","error_description":"AADSTS50076: MFA"}`),
			ErrSignInExpired, nil, false},
		{"no refresh token in the cache", errors.New("no token found"), ErrSignInExpired, nil, false},
		{"device code expired", callErr(400, `{"error":"expired_token","error_description":"AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired."}`),
			ErrDeviceCodeExpired, nil, false},
		{"declined", callErr(400, `{"error":"authorization_declined","error_description":"AADSTS70000: declined"}`),
			ErrDeclined, nil, false},
		{"offline", &url.Error{Op: "Post", URL: "https://login.test/token", Err: errors.New("dial tcp: connection refused")},
			ErrOffline, nil, false},
		{"cancelled", fmt.Errorf("wait: %w", context.Canceled), context.Canceled, nil, false},
		{"keyring gone", fmt.Errorf("load the token cache: %w", keyring.ErrUnavailable), keyring.ErrUnavailable, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.classify("get a token", tt.err)
			if !errors.Is(got, tt.is) {
				t.Fatalf("classify(%v) = %v, want one matching %v", tt.err, got, tt.is)
			}
			for _, s := range tt.inMsg {
				if !strings.Contains(got.Error(), s) {
					t.Errorf("message %q does not contain %q", got, s)
				}
			}
			var ce *ConsentError
			if errors.As(got, &ce) != tt.consent {
				t.Errorf("errors.As(ConsentError) = %v, want %v", !tt.consent, tt.consent)
			}
			if tt.consent && ce.AdminConsentURL != wantURL {
				t.Errorf("AdminConsentURL = %q, want %q", ce.AdminConsentURL, wantURL)
			}
		})
	}
}

func TestKeyringCacheRoundTrip(t *testing.T) {
	mem := keyring.NewMemory()
	kc := &keyringCache{store: keyring.New(keyring.WithBackend(mem), keyring.WithChunkSize(100)), name: "msal-cache:x"}
	ctx := context.Background()
	// Nothing stored: MSAL's cache is emptied.
	var u recorder
	if err := kc.Replace(ctx, &u, cacheReplaceHints()); err != nil {
		t.Fatal(err)
	}
	if string(u.got) != "{}" {
		t.Errorf("Replace with nothing stored unmarshalled %q, want {}", u.got)
	}
	blob := []byte(`{"AccessToken":{"k":{"secret":"` + strings.Repeat("a", 1000) + `"}}}`)
	if err := kc.Export(ctx, marshaler(blob), cacheExportHints()); err != nil {
		t.Fatal(err)
	}
	if mem.Len() < 2 {
		t.Errorf("a %d-byte cache took %d keyring entries, want it split", len(blob), mem.Len())
	}
	if err := kc.Replace(ctx, &u, cacheReplaceHints()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(u.got, blob) {
		t.Errorf("Replace gave %d bytes, want the %d exported", len(u.got), len(blob))
	}
	if err := kc.remove(); err != nil {
		t.Fatal(err)
	}
	if mem.Len() != 0 {
		t.Errorf("keyring holds %d entries after remove, want 0", mem.Len())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := kc.Replace(cancelled, &u, cacheReplaceHints()); !errors.Is(err, context.Canceled) {
		t.Errorf("Replace with a cancelled context: err = %v", err)
	}
}

// countingCache is an MSAL cache object that counts its decodes.
type countingCache struct {
	data     []byte
	decodes  int
	failNext bool
}

func (c *countingCache) Unmarshal(b []byte) error {
	c.decodes++
	if c.failNext {
		c.failNext = false
		return errors.New("bad cache")
	}
	c.data = append([]byte(nil), b...)
	return nil
}
func (c *countingCache) Marshal() ([]byte, error) { return c.data, nil }

// TestKeyringCacheDecodesOnlyChangedBytes: MSAL calls Replace before every
// token lookup; the stored cache is decoded again only when its bytes
// changed since this cache object last loaded or exported them, or when
// another object asks.
func TestKeyringCacheDecodesOnlyChangedBytes(t *testing.T) {
	mem := keyring.NewMemory()
	kc := &keyringCache{store: keyring.New(keyring.WithBackend(mem)), name: "msal-cache:x"}
	ctx := context.Background()
	m := &countingCache{}
	replace := func(step string, want int) {
		t.Helper()
		if err := kc.Replace(ctx, m, cacheReplaceHints()); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if m.decodes != want {
			t.Errorf("%s: %d decodes, want %d", step, m.decodes, want)
		}
	}
	replace("first lookup", 1)
	replace("second lookup, nothing changed", 1)
	m.data = []byte(`{"AccessToken":{"k":{"secret":"one"}}}`)
	if err := kc.Export(ctx, m, cacheExportHints()); err != nil {
		t.Fatal(err)
	}
	replace("after its own export", 1)
	// Another writer changes the stored bytes.
	if err := kc.store.Set(kc.name, []byte(`{"AccessToken":{"k":{"secret":"two"}}}`)); err != nil {
		t.Fatal(err)
	}
	replace("after the stored bytes changed", 2)
	if string(m.data) != `{"AccessToken":{"k":{"secret":"two"}}}` {
		t.Errorf("MSAL holds %s, want the new bytes", m.data)
	}
	// Another cache object has seen nothing yet.
	var other recorder
	if err := kc.Replace(ctx, &other, cacheReplaceHints()); err != nil || len(other.got) == 0 {
		t.Errorf("another object's lookup decoded %q, %v", other.got, err)
	}
	replace("after another object loaded", 3)
	// A failed decode is never taken as loaded.
	if err := kc.store.Set(kc.name, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	m.failNext = true
	if err := kc.Replace(ctx, m, cacheReplaceHints()); err == nil {
		t.Error("a failed decode was not reported")
	}
	replace("after a failed decode", 5)
	// After sign-out the next lookup decodes the empty cache.
	if err := kc.remove(); err != nil {
		t.Fatal(err)
	}
	replace("after remove", 6)
}
