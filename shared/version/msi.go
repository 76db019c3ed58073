package version

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
)

// UpgradeCode is the MSI UpgradeCode shared by every Mapdrive version: it
// ties the packages together so that a newer one upgrades an older one.
// It never changes. dist.sh hands it to wixl for installer/windows/mapdrive.wxs.
const UpgradeCode = "6B2D3C1E-7F4A-4E0B-9C55-2A1D8E3F4B70"

// MSIVersion returns the numeric x.y.z part of a version, which is all a
// Windows Installer ProductVersion may hold: a pre-release "-rc.1" is
// dropped.
func MSIVersion(v string) string {
	v, _, _ = strings.Cut(v, "-")
	return v
}

// ProductCode returns the MSI ProductCode of version v, upper case and
// without braces: a version-5 UUID of "mapdrive-msi-x.y.z" in the
// UpgradeCode namespace. One code per MSI version, the same on every build
// machine, so Intune detection rules can be written before a build; a
// pre-release shares its release's code, as it shares its ProductVersion.
func ProductCode(v string) string {
	pc, err := UUID5(UpgradeCode, "mapdrive-msi-"+MSIVersion(v))
	if err != nil {
		// UpgradeCode is a constant UUID; failing here is a programming error
		// caught by the package's tests.
		panic(err)
	}
	return pc
}

// UUID5 returns the RFC 4122 name-based (SHA-1, version 5) UUID of name in
// the namespace UUID ns, in upper case as Windows Installer writes GUIDs.
func UUID5(ns, name string) (string, error) {
	raw, err := hex.DecodeString(strings.ReplaceAll(ns, "-", ""))
	if err != nil || len(raw) != 16 {
		return "", fmt.Errorf("namespace %q is not a UUID", ns)
	}
	h := sha1.New()
	h.Write(raw)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := strings.ToUpper(hex.EncodeToString(u))
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], nil
}
