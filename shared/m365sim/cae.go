package m365sim

import (
	"net/http"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph"
)

// challenge is Graph's continuous access evaluation (graph.Challenger),
// asked for tokens of clients that declared cp1: a token issued before
// the user's sessions were revoked is refused with a claims challenge
// for a newer one (critical event evaluation), then the claimsChallenge
// faults apply (Conditional Access policy evaluation).
// graph-contract.md: "A token revoked by CAE fails before its exp".
func (s *Sim) challenge(r *http.Request, tid, oid string, claims map[string]any) *graph.Challenge {
	iat, _ := claims["iat"].(float64)
	var acrs []string
	if v, ok := claims["acrs"].([]any); ok {
		for _, x := range v {
			if a, ok := x.(string); ok {
				acrs = append(acrs, a)
			}
		}
	}
	u := userKey{tid: strings.ToLower(tid), oid: strings.ToLower(oid)}
	var ch *graph.Challenge
	if at, ok := s.entra.RevokedAt(tid, oid); ok && int64(iat) < ceilSecond(at) {
		ch = &graph.Challenge{Claims: nbfClaims(ceilSecond(at)), Code: "TokenIssuedBeforeRevocationTimestamp"}
	} else {
		ch = s.gate.faults.challenge(Classify(r), r.Method, u, int64(iat), acrs)
	}
	if ch != nil {
		s.log.Debug("claims challenge", "user", s.gate.label(u), "code", ch.Code)
		s.gate.counters.challenged(s.gate.label(u))
	}
	return ch
}

// claimsGranted counts a token Entra issued for a claims request.
func (s *Sim) claimsGranted(tid, oid, claims string) {
	u := userKey{tid: strings.ToLower(tid), oid: strings.ToLower(oid)}
	s.log.Debug("token issued for a claims request", "user", s.gate.label(u), "claims", claims)
	s.gate.counters.granted(s.gate.label(u), claims)
}

// ceilSecond is t in Unix seconds, rounded up. Tokens carry whole
// seconds, so a token issued in the second of a revocation may predate
// it: it is refused too, erring on the side of the revocation.
func ceilSecond(t time.Time) int64 {
	if t.Truncate(time.Second).Equal(t) {
		return t.Unix()
	}
	return t.Unix() + 1
}
