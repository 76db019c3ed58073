package distcheck

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
)

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

// ProductCode returns the MSI ProductCode that scripts/dist.sh gives
// version v, without braces: a version-5 UUID of "mapdrive-msi-x.y.z" in
// the UpgradeCode namespace. One code per version, the same on every build
// machine, so Intune detection rules can be written before a build.
func ProductCode(v string) string {
	pc, err := UUID5(UpgradeCode, "mapdrive-msi-"+MSIVersion(v))
	if err != nil {
		// UpgradeCode is a constant UUID; failing here is a programming error
		// caught by the package's tests.
		return ""
	}
	return pc
}
