// Package logredact provides the slog.Handler every Mapdrive binary logs
// through. It wraps another handler and redacts, before the record reaches
// it, anything that looks like a credential or personal data: JWTs and
// bearer tokens, e-mail addresses and UPNs, the values of attributes whose
// key names a secret (token, secret, password, authorization, upn, email,
// cookie, key, ...), and values whose type implements Sensitive. The record
// message is scrubbed the same way as string values.
//
// The handler is a safety net, not a licence to log personal data: code
// should still not pass UPNs or tokens to a logger.
package logredact

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"unicode"
)

// Redacted replaces every redacted value.
const Redacted = "[REDACTED]"

// Sensitive is the marker interface of types whose values must never be
// logged. The handler replaces any attribute value of such a type with
// Redacted, whatever its key.
type Sensitive interface {
	LogSensitive()
}

// Secret is a string that never prints: it implements Sensitive,
// slog.LogValuer, fmt.Stringer and fmt.GoStringer, all giving Redacted.
// Use Reveal to get the value.
type Secret string

// LogSensitive marks Secret as Sensitive.
func (Secret) LogSensitive() {}

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return Redacted }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// Handler is a redacting slog.Handler. It is immutable and safe for
// concurrent use.
type Handler struct {
	next slog.Handler
}

// New returns a handler that redacts records and passes them to next.
func New(next slog.Handler) *Handler { return &Handler{next: next} }

// NewJSON returns a logger writing JSON lines to w at level and above,
// through the redacting handler: the logger every Mapdrive binary uses.
func NewJSON(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = Attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(String(name))}
}

// sensitiveWords are the key words that make an attribute secret. A key is
// split into words at punctuation and lower-to-upper case changes, so
// "access_token", "X-Api-Key" and "userEmail" all match.
var sensitiveWords = map[string]bool{
	"token": true, "tokens": true, "secret": true, "secrets": true, "password": true, "passwd": true, "pwd": true,
	"authorization": true, "auth": true, "bearer": true, "jwt": true, "assertion": true, "credential": true,
	"credentials": true, "cookie": true, "cookies": true, "key": true, "apikey": true, "privatekey": true,
	"upn": true, "email": true, "mail": true, "username": true, "sig": true, "signature": true,
	"dek": true, "kek": true, "passphrase": true, "session": true,
}

// SensitiveKey reports whether an attribute key names a secret or personal
// data, so that its value is always redacted.
func SensitiveKey(key string) bool {
	lower := strings.ToLower(key)
	if sensitiveWords[lower] || lower == "preferred_username" || lower == "unique_name" {
		return true
	}
	for _, w := range splitWords(key) {
		if sensitiveWords[w] {
			return true
		}
	}
	return false
}

func splitWords(key string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	runes := []rune(key)
	for i, r := range runes {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(runes[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

var (
	jwtRe    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?`)
	bearerRe = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)
	emailRe  = regexp.MustCompile(`[A-Za-z0-9._%+'!#$&*=?^{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*`)
	// pctEmailRe is a UPN percent-encoded in a URL (alice%40contoso.com),
	// also encoded twice (%2540).
	pctEmailRe = regexp.MustCompile(`(?i)[A-Za-z0-9._%+'!#$&*=?^{|}~-]*%(25)*40[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*`)
	// refreshRe is an Entra refresh token: opaque, "0.A…" or "1.A…" and
	// hundreds of characters, so it is caught whatever key carries it.
	refreshRe = regexp.MustCompile(`[01]\.A[A-Za-z0-9._*~+/=-]{30,}`)
	// b64Re is a run that may be base64 (std or url alphabet); each one is
	// decoded and dropped if it hides a UPN.
	b64Re = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)
)

// String returns s with JWTs, bearer credentials, refresh tokens and
// e-mail addresses or UPNs (plain, percent-encoded or base64-encoded)
// replaced by Redacted.
func String(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtRe.ReplaceAllString(s, Redacted)
	}
	if containsFold(s, "bearer") || containsFold(s, "basic") {
		s = bearerRe.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, ".A") {
		s = refreshRe.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, "@") {
		s = emailRe.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, "%") {
		s = pctEmailRe.ReplaceAllString(s, Redacted)
	}
	return b64Re.ReplaceAllStringFunc(s, func(m string) string {
		if hidesEmail(m) {
			return Redacted
		}
		return m
	})
}

// hidesEmail reports whether m, decoded as base64 (std or url alphabet, at
// any of the four alignments, since the UPN may sit inside a longer
// encoded value), contains an e-mail address.
func hidesEmail(m string) bool {
	raw := strings.TrimRight(m, "=")
	raw = strings.NewReplacer("-", "+", "_", "/").Replace(raw)
	for off := 0; off < 4 && off < len(raw); off++ {
		part := raw[off:]
		part = part[:len(part)-len(part)%4]
		if len(part) == 0 {
			break
		}
		b, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			continue
		}
		if bytes.IndexByte(b, '@') >= 0 && emailRe.Match(b) {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// Attr returns a redacted copy of a: the whole value if the key is
// sensitive or the value's type implements Sensitive, otherwise its
// strings scrubbed with String. Groups are redacted recursively.
func Attr(a slog.Attr) slog.Attr {
	if SensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	return slog.Attr{Key: a.Key, Value: Value(a.Value)}
}

// Value returns a redacted copy of v (see Attr).
func Value(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(String(v.String()))
	case slog.KindGroup:
		in := v.Group()
		out := make([]slog.Attr, len(in))
		for i, a := range in {
			out[i] = Attr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindLogValuer, slog.KindAny:
		if _, ok := v.Any().(Sensitive); ok {
			return slog.StringValue(Redacted)
		}
		if v.Kind() == slog.KindLogValuer {
			return Value(v.Resolve())
		}
		return anyValue(v.Any())
	default: // numbers, bools, times, durations carry no text
		return v
	}
}

// anyValue renders arbitrary values as scrubbed text: an error's message, a
// byte slice or a struct may hold a UPN as well as any string.
func anyValue(x any) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(String(x.Error()))
	case []byte:
		return slog.StringValue(String(string(x)))
	case fmt.Stringer:
		return slog.StringValue(String(x.String()))
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = String(s)
		}
		return slog.AnyValue(out)
	default:
		return slog.StringValue(String(fmt.Sprintf("%+v", x)))
	}
}
