//go:build windows

package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// PolicyKey is the registry key the MSI, Group Policy or Intune (the ADMX
// in installer/windows/admx) write machine policy to, under
// HKEY_LOCAL_MACHINE. Value names are the config keys in PolicyKeys;
// strings are REG_SZ (REG_MULTI_SZ is joined with commas, for lease_key),
// numbers and booleans REG_DWORD or REG_SZ.
const PolicyKey = `SOFTWARE\Policies\Mapdrive`

// PolicyFile names the policy source for messages.
func PolicyFile() string { return `HKLM\` + PolicyKey }

func machinePolicy() (map[string]string, error) {
	return readPolicy(registry.LOCAL_MACHINE, PolicyKey, PolicyFile())
}

// readPolicy reads the PolicyKeys values under root\path (named in errors
// as where); a missing key is no policy.
func readPolicy(root registry.Key, path, where string) (map[string]string, error) {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	defer k.Close()
	raw := map[string]string{}
	for _, name := range PolicyKeys {
		if s, _, err := k.GetStringValue(name); err == nil {
			raw[name] = s
			continue
		}
		if ss, _, err := k.GetStringsValue(name); err == nil {
			raw[name] = strings.Join(ss, ",")
			continue
		}
		if n, _, err := k.GetIntegerValue(name); err == nil {
			if name == "autostart" {
				raw[name] = strconv.FormatBool(n != 0)
			} else {
				raw[name] = strconv.FormatUint(n, 10)
			}
		}
	}
	return raw, nil
}
