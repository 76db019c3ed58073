//go:build windows

package mountdriver

// Run under wine by shared/distcheck (TestWindowsAgentUnderWine), compiled
// with GOOS=windows, twice: without WinFsp's registry key, then after
// `wine reg add HKLM\SOFTWARE\WinFsp /v InstallDir /reg:32` pointing at a
// folder holding bin\winfsp-x64.dll. The -winfsp flag says which.

import (
	"flag"
	"testing"
)

var winfsp = flag.String("winfsp", "", "what the prefix holds: missing or installed (set by shared/distcheck)")

func TestWinFspRegistry(t *testing.T) {
	want := map[string]Presence{"missing": Missing, "installed": Installed}[*winfsp]
	if want == Unknown {
		t.Skip("-winfsp is neither missing nor installed: shared/distcheck sets it when it runs this under wine")
	}
	got, err := Check()
	if err != nil || got != want {
		t.Fatalf("Check = %v, %v; want %v", got, err, want)
	}
	t.Logf("WinFsp %v under wine, as the registry says", got)
}

func TestDLLName(t *testing.T) {
	for goarch, want := range map[string]string{"amd64": "winfsp-x64.dll", "arm64": "winfsp-a64.dll", "386": "winfsp-x86.dll"} {
		if got := dllName(goarch); got != want {
			t.Errorf("dllName(%s) = %s, want %s", goarch, got, want)
		}
	}
}
