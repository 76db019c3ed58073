//go:build windows

package config

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/windows/registry"
)

// PolicyKey is the registry key the MSI or Intune writes machine policy to,
// under HKEY_LOCAL_MACHINE. Value names are the config keys (client_id, …);
// strings are REG_SZ, numbers and booleans REG_DWORD or REG_SZ.
const PolicyKey = `SOFTWARE\Policies\Mapdrive`

// PolicyFile names the policy source for messages.
func PolicyFile() string { return `HKLM\` + PolicyKey }

func machinePolicy() (map[string]string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, PolicyKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open HKLM\\%s: %w", PolicyKey, err)
	}
	defer k.Close()
	raw := map[string]string{}
	for _, name := range Keys {
		if s, _, err := k.GetStringValue(name); err == nil {
			raw[name] = s
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
