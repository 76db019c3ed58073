package fusefs

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestSimMountReadDuringClaimsChallenge: a Conditional Access policy
// evaluated by Graph (continuous access evaluation) asks for an
// authentication context (c1) the mount's unexpired token lacks, with a
// claims challenge. The read does not fail: the
// Graph layer asks MSAL again with the challenge's claims, which redeems
// the refresh token silently, and sends the request again. The simulator
// counts the challenge and the token issued for the claims request.
func TestSimMountReadDuringClaimsChallenge(t *testing.T) {
	s := newSimMount(t)
	want := []byte("read under a Conditional Access change\n")
	s.upload("/cae.txt", want)
	eventually(t, 30*time.Second, "the file in the mount", func() bool {
		_, err := os.Stat(s.p("cae.txt"))
		return err == nil
	})
	// Only the challenge's own claims satisfy an authentication
	// context: renewing the token as after an expiry would not.
	s.fault(m365sim.Fault{Kind: m365sim.FaultClaimsChallenge, User: "alice@contoso.com", Acrs: "c1"})

	got, err := os.ReadFile(s.p("cae.txt"))
	if err != nil {
		t.Fatalf("read during the claims challenge: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	st := s.counters().Claims["contoso/alice"]
	if st == nil || st.Challenges < 1 || st.Granted < 1 {
		t.Fatalf("claims counters of alice = %+v, want a challenge and a token issued for its claims", st)
	}
	if !strings.Contains(st.LastClaims, `"acrs":{"essential":true,"value":"c1"}`) || !strings.Contains(st.LastClaims, `"cp1"`) {
		t.Errorf("claims sent %s, want the challenge's acrs with the cp1 capability", st.LastClaims)
	}
	// The new token satisfies the rule: later requests are not
	// challenged (the poller may have met the rule at the same time as
	// the read, hence at most two).
	if _, err := os.ReadDir(s.p("")); err != nil {
		t.Fatal(err)
	}
	if st := s.counters().Claims["contoso/alice"]; st.Challenges > 2 || st.Challenges != st.Granted {
		t.Errorf("challenges %d, grants %d; want each challenge answered once", st.Challenges, st.Granted)
	}
}
