//go:build windows

package ipc

// These tests need Windows' pipe file system and SDDL parser. CI has no
// Windows machine: shared/distcheck (TestWindowsAgentUnderWine) compiles
// them with GOOS=windows and runs the test binary under wine. Every process
// in a wine prefix runs as the same user, so no test here can open the
// pipe as another user; the refusal of a foreign server is the decision in
// verifyServerSID, tested on every OS in ipc_sid_test.go.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// underWine reports whether ntdll is wine's, which exports wine_get_version.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

var pipeSeq atomic.Int64

func testPipePath() string {
	return fmt.Sprintf(`\\.\pipe\mapdrive-test-%d-%d`, os.Getpid(), pipeSeq.Add(1))
}

// TestPipeSecurityDescriptorParsed parses the pipe's SDDL with Windows'
// own parser (ConvertStringSecurityDescriptorToSecurityDescriptor) and
// checks the DACL it yields: protected, one ACE, allow, GENERIC_ALL, the
// current user's SID.
func TestPipeSecurityDescriptorParsed(t *testing.T) {
	sid, err := currentSID()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.SecurityDescriptorFromString(pipeSecurityDescriptor(sid))
	if err != nil {
		t.Fatalf("parse %q: %v", pipeSecurityDescriptor(sid), err)
	}
	control, _, err := sd.Control()
	if err != nil {
		t.Fatal(err)
	}
	if control&windows.SE_DACL_PRESENT == 0 || control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("control %#x: want a present, protected DACL", control)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if dacl == nil || dacl.AceCount != 1 {
		t.Fatalf("DACL %+v: want exactly one ACE", dacl)
	}
	var ace *windows.ACCESS_ALLOWED_ACE
	if err := windows.GetAce(dacl, 0, &ace); err != nil {
		t.Fatal(err)
	}
	if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
		t.Errorf("ACE type %d, want ACCESS_ALLOWED", ace.Header.AceType)
	}
	if ace.Mask != windows.GENERIC_ALL {
		t.Errorf("ACE mask %#x, want GENERIC_ALL", ace.Mask)
	}
	aceSID := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
	if aceSID.String() != sid {
		t.Errorf("ACE grants %s, want the current user %s", aceSID, sid)
	}
	t.Logf("pipe DACL for %s: %s", sid, pipeSecurityDescriptor(sid))
}

// TestPipeRoundTrip listens on a pipe, dials it through the checks a client
// makes (the server's SID read from the pipe and compared with ours), and
// exchanges a line. A second listener on the same name is refused (first
// instance only).
func TestPipeRoundTrip(t *testing.T) {
	path := testPipePath()
	ln, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "echo %s", line)
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	defer c.Close()
	serverSID, err := pipeServerSID(c)
	if err != nil {
		t.Fatalf("read the pipe server's SID: %v", err)
	}
	mySID, _ := currentSID()
	if serverSID != mySID {
		t.Errorf("pipe server SID %s, want ours %s", serverSID, mySID)
	}
	fmt.Fprintf(c, "hello\n")
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "echo hello\n" {
		t.Fatalf("reply %q, %v", got, err)
	}
	t.Logf("pipe %s served and dialled as %s", path, serverSID)

	// The DACL the pipe really carries, read back from the client's handle.
	f := c.(interface{ Fd() uintptr })
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("read the pipe's DACL: %v", err)
	}
	// Windows may print GENERIC_ALL mapped to the pipe's FILE_ALL_ACCESS.
	if s := sd.String(); s != pipeSecurityDescriptor(mySID) && s != "D:P(A;;FA;;;"+mySID+")" {
		t.Errorf("pipe DACL %s, want %s only", s, pipeSecurityDescriptor(mySID))
	} else {
		t.Logf("the pipe's DACL read back: %s", s)
	}
	if underWine() {
		t.Logf("under wine: every process of the prefix runs as %s, so another user's open cannot be refused here; "+
			"the descriptor string and the dialer's decision for a foreign SID are tested as logic", mySID)
	}

	// First instance only: a second agent (or a squatter) cannot join the
	// name. Wine's named pipe server ignores the FILE_CREATE disposition
	// go-winio asks for, so there it is only reported.
	second, err := Listen(path, nil)
	switch {
	case err != nil:
		t.Logf("a second listener on %s is refused: %v", path, err)
	case underWine():
		second.Close()
		t.Logf("under wine: a second listener on %s was allowed (wine does not honour FILE_CREATE on pipes); Windows refuses it", path)
	default:
		second.Close()
		t.Error("a second listener on the same pipe name was allowed; want first-instance only")
	}
}

// TestDialRefusesForeignSID runs the dialer's decision with the real
// current SID against a foreign one. The foreign server itself cannot be
// created under wine (one SID per prefix) or in CI.
func TestDialRefusesForeignSID(t *testing.T) {
	mySID, err := currentSID()
	if err != nil {
		t.Fatal(err)
	}
	const foreign = "S-1-5-21-1111111111-2222222222-3333333333-1105"
	if err := verifyServerSID(`\\.\pipe\mapdrive-agent-`+mySID, foreign, mySID); err == nil {
		t.Fatal("a pipe served by a foreign SID was trusted")
	}
	if err := verifyServerSID(`\\.\pipe\mapdrive-agent-`+mySID, mySID, mySID); err != nil {
		t.Fatalf("our own server refused: %v", err)
	}
	if underWine() {
		t.Logf("under wine: all processes share %s, so a pipe served by another user cannot be created; the refusal is shown on the decision only", mySID)
	}
}
