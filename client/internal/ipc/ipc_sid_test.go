package ipc

import (
	"errors"
	"strings"
	"testing"
)

// TestVerifyServerSID covers the Windows dialer's decision on every OS: only
// a pipe served under the caller's own SID is trusted.
func TestVerifyServerSID(t *testing.T) {
	const me = "S-1-5-21-1004336348-1177238915-682003330-1001"
	const other = "S-1-5-21-1004336348-1177238915-682003330-1002"
	tests := []struct {
		name             string
		server, mine     string
		wantOK           bool
		wantMsgFragments []string
	}{
		{"same user", me, me, true, nil},
		{"same user, other case", strings.ToLower(me), me, true, nil},
		{"another user squats the pipe", other, me, false, []string{other, "impersonating"}},
		{"SYSTEM serves the pipe", "S-1-5-18", me, false, []string{"S-1-5-18"}},
		{"prefix of my SID", me[:len(me)-1], me, false, nil},
		{"server SID unreadable", "", me, false, []string{"could not be read"}},
		{"my SID unknown", me, "", false, []string{"SID is unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyServerSID(`\\.\pipe\mapdrive-agent-`+me, tt.server, tt.mine)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("verifyServerSID = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUntrustedAgent) {
				t.Fatalf("verifyServerSID = %v, want ErrUntrustedAgent", err)
			}
			for _, f := range tt.wantMsgFragments {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not mention %q", err, f)
				}
			}
		})
	}
}

// TestPipeSecurityDescriptor checks the SDDL the Windows listener gives its
// pipe: a protected DACL with exactly one ACE, allowing the user alone.
func TestPipeSecurityDescriptor(t *testing.T) {
	const me = "S-1-5-21-1004336348-1177238915-682003330-1001"
	if got, want := pipeSecurityDescriptor(me), "D:P(A;;GA;;;"+me+")"; got != want {
		t.Fatalf("pipeSecurityDescriptor = %q, want %q", got, want)
	}
}
