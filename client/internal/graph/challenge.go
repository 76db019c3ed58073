package graph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// maxClaimsLen bounds the claims parameter of a challenge: it comes from
// the network, and real ones are a few hundred bytes.
const maxClaimsLen = 16 << 10

// claimsChallenge returns the decoded claims request of a claims challenge
// in h's WWW-Authenticate headers: a Bearer challenge with
// error="insufficient_claims" and claims="<base64 JSON object>". ok is
// false for anything else, a malformed header included.
// https://learn.microsoft.com/entra/identity-platform/claims-challenge
func claimsChallenge(h http.Header) (claims string, ok bool) {
	for _, v := range h.Values("WWW-Authenticate") {
		for _, ch := range parseChallenges(v) {
			if !strings.EqualFold(ch.scheme, "Bearer") || ch.params["error"] != "insufficient_claims" {
				continue
			}
			if c, ok := decodeClaims(ch.params["claims"]); ok {
				return c, true
			}
		}
	}
	return "", false
}

// decodeClaims decodes a challenge's claims parameter. Entra sends
// padded standard base64; the unpadded and URL-safe alphabets are taken
// too. The result must be a JSON object: it becomes MSAL's claims
// request.
func decodeClaims(enc string) (string, bool) {
	if enc == "" || len(enc) > maxClaimsLen {
		return "", false
	}
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := e.DecodeString(enc)
		if err != nil {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			return "", false
		}
		return string(raw), true
	}
	return "", false
}

// challenge is one challenge of a WWW-Authenticate header (RFC 7235):
// an auth scheme and its parameters, names lower-cased.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses a WWW-Authenticate value, which may hold several
// challenges separated by commas:
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// A challenge with a malformed or repeated parameter ("each parameter
// name must occur only once per authentication scheme challenge") is
// dropped, and parsing stops at the first error: what follows cannot be
// trusted to be read the way the server meant it.
func parseChallenges(v string) []challenge {
	var out []challenge
	p := &hdrParser{s: v}
	for {
		p.skip(" \t,")
		if p.done() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			return out
		}
		ch := challenge{scheme: scheme, params: map[string]string{}}
		good := true
		for {
			p.skip(" \t")
			mark := p.i
			name := p.token()
			if name == "" {
				// token68, or the end: neither carries a claims challenge.
				if !p.done() && p.peek() != ',' {
					p.skipTo(',')
				}
				break
			}
			p.skip(" \t")
			if p.done() || p.peek() != '=' {
				// A new challenge's scheme, not a parameter.
				p.i = mark
				break
			}
			p.i++ // '='
			p.skip(" \t")
			if len(ch.params) == 0 && (p.done() || p.peek() == '=' || p.peek() == ',') {
				// A token68 with padding ("Negotiate abc=="): no
				// parameters, the next challenge after the comma.
				p.skipTo(',')
				break
			}
			val, ok := p.value()
			if !ok {
				return out
			}
			name = strings.ToLower(name)
			if _, dup := ch.params[name]; dup {
				good = false
			}
			ch.params[name] = val
			p.skip(" \t")
			if p.done() {
				break
			}
			if p.peek() != ',' {
				return out
			}
			p.i++ // ','
		}
		if good {
			out = append(out, ch)
		}
	}
}

// hdrParser walks a header value.
type hdrParser struct {
	s string
	i int
}

func (p *hdrParser) done() bool { return p.i >= len(p.s) }
func (p *hdrParser) peek() byte { return p.s[p.i] }

func (p *hdrParser) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *hdrParser) skipTo(c byte) {
	for p.i < len(p.s) && p.s[p.i] != c {
		p.i++
	}
}

// token reads an RFC 7230 token, or "" when none starts here.
func (p *hdrParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads a parameter value: a quoted-string (with backslash
// escapes) or a token.
func (p *hdrParser) value() (string, bool) {
	if p.done() {
		return "", false
	}
	if p.peek() != '"' {
		t := p.token()
		return t, t != ""
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c < 0x20 && c != '\t', c == 0x7f:
			return "", false
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false // unterminated
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
