package distcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mdversion "github.com/mapdrive/mapdrive/shared/version"
	"github.com/tc-hib/winres"
	"github.com/tc-hib/winres/version"
)

// TestWindowsVersionResource: both Windows binaries carry a version
// resource with the release's version (what Explorer's Properties show,
// the same as `mapdrive.exe version`) and Mapdrive's icon.
func TestWindowsVersionResource(t *testing.T) {
	d := buildDist(t)
	var want [4]uint16
	if _, err := fmt.Sscanf(mdversion.MSIVersion(d.version), "%d.%d.%d", &want[0], &want[1], &want[2]); err != nil {
		t.Fatalf("VERSION %q: %v", d.version, err)
	}
	for _, exe := range []string{"mapdrive.exe", "mapdrive-tray.exe"} {
		f, err := os.Open(filepath.Join(d.dir, "windows", exe))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := winres.LoadFromEXE(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: read resources: %v", exe, err)
		}
		var vi *version.Info
		rs.WalkType(winres.RT_VERSION, func(_ winres.Identifier, _ uint16, data []byte) bool {
			vi, err = version.FromBytes(data)
			return false
		})
		if vi == nil || err != nil {
			t.Errorf("%s has no version resource (%v)", exe, err)
			continue
		}
		if vi.FileVersion != want || vi.ProductVersion != want {
			t.Errorf("%s: file version %v, product version %v, want %v (VERSION %s)", exe, vi.FileVersion, vi.ProductVersion, want, d.version)
		}
		icons := 0
		rs.WalkType(winres.RT_GROUP_ICON, func(winres.Identifier, uint16, []byte) bool { icons++; return true })
		if icons == 0 {
			t.Errorf("%s has no icon", exe)
		}
	}
}
