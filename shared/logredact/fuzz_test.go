package logredact_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/logredact"
)

// secretForms are the shapes a secret takes in a log line: token-shaped
// JWTs, Entra-shaped refresh tokens, and UPNs plain, upper case,
// percent-encoded (once and twice) and base64 (std and url).
func secretForms(kind, who uint8) (name, secret string) {
	upns := []string{"alice@contoso.onmicrosoft.com", "bob@contoso.com", "admin@contoso.com"}
	u := upns[int(who)%len(upns)]
	switch kind % 8 {
	case 0:
		return "jwt", jwt
	case 1:
		return "refresh token", "1.AXoA" + strings.Repeat("q7Zt-3_kLm", 12)
	case 2:
		return "upn", u
	case 3:
		return "upper-case upn", strings.ToUpper(u)
	case 4:
		return "percent-encoded upn", url.QueryEscape(u)
	case 5:
		return "twice percent-encoded upn", url.QueryEscape(url.QueryEscape(u))
	case 6:
		return "base64 upn", base64.StdEncoding.EncodeToString([]byte(u))
	default:
		return "base64url upn", base64.RawURLEncoding.EncodeToString([]byte(u))
	}
}

// FuzzRedact checks the redactor's property: whatever surrounds a secret,
// and under whatever (neutral) key it is logged, the secret never comes out.
// The seed corpus is in testdata/fuzz/FuzzRedact.
func FuzzRedact(f *testing.F) {
	f.Add("GET https://graph.microsoft.com/v1.0/users/", "/drive failed", uint8(4), uint8(0))
	f.Add(`{"value":"`, `"}`, uint8(1), uint8(0))
	f.Add("cookie=", "; path=/", uint8(6), uint8(1))
	f.Add("", "", uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, prefix, suffix string, kind, who uint8) {
		name, secret := secretForms(kind, who)
		in := prefix + secret + suffix
		if got := logredact.String(in); strings.Contains(got, secret) {
			t.Fatalf("String kept the %s:\nin:  %q\nout: %q", name, in, got)
		}
		var buf bytes.Buffer
		logredact.NewJSON(&buf, slog.LevelDebug).Info("m", "value", in, "err", errString(in))
		// JSON escapes nothing in these secrets' alphabets but '+', '&',
		// '<', '>' (as \u00xx), so look for the escaped form too.
		escaped := strings.NewReplacer("&", `\u0026`, "<", `\u003c`, ">", `\u003e`).Replace(secret)
		if out := buf.String(); strings.Contains(out, secret) || strings.Contains(out, escaped) {
			t.Fatalf("the log line kept the %s:\nin:  %q\nout: %s", name, in, out)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
