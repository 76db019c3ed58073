package logredact_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/logredact"
)

const (
	upn    = "alice@contoso.onmicrosoft.com"
	jwt    = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
	secret = "hunter2-very-secret"
)

type sensitiveThing struct{ v string }

func (sensitiveThing) LogSensitive() {}

type user struct {
	Name string
	Mail string
}

// TestNothingLeaks logs the UPN, a JWT and a secret through every path a
// caller can take, at every level, and checks none reaches the output.
func TestNothingLeaks(t *testing.T) {
	cases := []struct {
		name string
		log  func(l *slog.Logger, level slog.Level)
	}{
		{"message upn", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "signed in "+upn) }},
		{"message jwt", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "got token "+jwt) }},
		{"message bearer", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "Authorization: Bearer "+secret) }},
		{"attr upn neutral key", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "who", upn) }},
		{"attr upn key", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "upn", "alice") }},
		{"attr jwt neutral key", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "value", jwt) }},
		{"attr secret key", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "client_secret", secret) }},
		{"attr password camel", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "adminPassword", secret) }},
		{"attr header", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "Authorization", "Bearer "+secret)
		}},
		{"attr cookie", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "cookie", secret) }},
		{"attr api key", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "X-Api-Key", secret) }},
		{"marker type", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "x", sensitiveThing{secret})
		}},
		{"Secret type", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "x", logredact.Secret(secret))
		}},
		{"error", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "err", fmt.Errorf("lookup %s: %w", upn, errors.New("boom")))
		}},
		{"struct", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "user", user{Name: "a", Mail: upn})
		}},
		{"bytes", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "raw", []byte(jwt)) }},
		{"string slice", func(l *slog.Logger, lv slog.Level) { l.Log(context.Background(), lv, "m", "list", []string{upn, jwt}) }},
		{"group", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", slog.Group("req", "who", upn, "token", secret, slog.Group("inner", "t", jwt)))
		}},
		{"group named secret", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", slog.Group("credentials", "a", secret))
		}},
		{"With attrs", func(l *slog.Logger, lv slog.Level) {
			l.With("who", upn, "password", secret, "t", jwt).Log(context.Background(), lv, "m")
		}},
		{"With group", func(l *slog.Logger, lv slog.Level) {
			l.WithGroup("g").With("who", upn).WithGroup("h").Log(context.Background(), lv, "m", "token", secret, "jwt", jwt)
		}},
		{"LogValuer", func(l *slog.Logger, lv slog.Level) {
			l.Log(context.Background(), lv, "m", "v", valuer{upn})
		}},
	}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	for _, tc := range cases {
		for _, lv := range levels {
			t.Run(fmt.Sprintf("%s/%s", tc.name, lv), func(t *testing.T) {
				var buf bytes.Buffer
				l := logredact.NewJSON(&buf, slog.LevelDebug)
				tc.log(l, lv)
				out := buf.String()
				if out == "" {
					t.Fatal("nothing logged")
				}
				for _, bad := range []string{upn, jwt, secret, "eyJ", "@contoso"} {
					if strings.Contains(out, bad) {
						t.Errorf("output contains %q: %s", bad, out)
					}
				}
				if !strings.Contains(out, logredact.Redacted) {
					t.Errorf("output has no %s marker: %s", logredact.Redacted, out)
				}
			})
		}
	}
}

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.GroupValue(slog.String("name", v.s)) }

// TestKeepsHarmless checks ordinary values pass unchanged.
func TestKeepsHarmless(t *testing.T) {
	var buf bytes.Buffer
	l := logredact.NewJSON(&buf, slog.LevelInfo)
	l.Info("mapping fetched", "tenant", "7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77", "count", 3, "kid", "abc", "route", "/v1/validate")
	out := buf.String()
	for _, want := range []string{`"msg":"mapping fetched"`, `"tenant":"7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77"`, `"count":3`, `"kid":"abc"`, `"route":"/v1/validate"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %s lacks %s", out, want)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"token", true}, {"access_token", true}, {"refreshToken", true}, {"Authorization", true},
		{"upn", true}, {"preferred_username", true}, {"userEmail", true}, {"X-Api-Key", true},
		{"Set-Cookie", true}, {"client_secret", true}, {"kid", false}, {"tenant", false},
		{"monkey", false}, {"route", false}, {"status", false},
	} {
		if got := logredact.SensitiveKey(tc.key); got != tc.want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "hello"},
		{"user " + upn + " ok", "user [REDACTED] ok"},
		{"tok " + jwt, "tok [REDACTED]"},
		{"Bearer abc.def", "[REDACTED]"},
		// What an outside review found passing through:
		{"GET https://graph.microsoft.com/v1.0/users/alice%40contoso.com/drive", "GET https://graph.microsoft.com/v1.0/users/[REDACTED]/drive"},
		{"1.AXoA" + strings.Repeat("q7Zt-3_kLm", 12), "[REDACTED]"},
		{"hint=YWxpY2VAY29udG9zby5vbm1pY3Jvc29mdC5jb20=", "hint=[REDACTED]"},
		// Ordinary base64 and hashes stay.
		{"sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
	} {
		if got := logredact.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSecretFormatting(t *testing.T) {
	s := logredact.Secret(secret)
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s)} {
		if strings.Contains(got, secret) {
			t.Errorf("formatted Secret leaks: %s", got)
		}
	}
	if s.Reveal() != secret {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}
