//go:build windows

package config

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// TestRegistryPolicy reads policy the way the MSI and the ADMX write it:
// REG_SZ strings, a REG_DWORD autostart, a REG_SZ number, lease keys as one
// REG_SZ or a REG_MULTI_SZ; a value that is not a policy setting is
// ignored. It uses a scratch key under HKCU (no rights needed), and runs
// under wine in shared/distcheck's TestWindowsAgentUnderWine.
func TestRegistryPolicy(t *testing.T) {
	const path = `SOFTWARE\MapdriveTest\TestRegistryPolicy`
	registry.DeleteKey(registry.CURRENT_USER, path)
	k, _, err := registry.CreateKey(registry.CURRENT_USER, path, registry.ALL_ACCESS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Close()
		registry.DeleteKey(registry.CURRENT_USER, path)
	})
	set := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	set(k.SetStringValue("service_url", "https://mapdrive.contoso.com"))
	set(k.SetStringValue("lease_key", "key-1;key-2"))
	set(k.SetDWordValue("autostart", 0))
	set(k.SetStringValue("cache_max_gb", "7"))
	set(k.SetDWordValue("poll_interval", 45))
	set(k.SetStringValue("state_dir", `C:\shared`)) // per-user: not policy

	got, err := readPolicy(registry.CURRENT_USER, path, `HKCU\`+path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"service_url": "https://mapdrive.contoso.com", "lease_key": "key-1;key-2",
		"autostart": "false", "cache_max_gb": "7", "poll_interval": "45",
	}
	if len(got) != len(want) {
		t.Errorf("readPolicy = %v, want %v", got, want)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("readPolicy %s = %q, want %q", name, got[name], v)
		}
	}

	set(k.SetStringsValue("lease_key", []string{"key-1", "key-2"}))
	got, err = readPolicy(registry.CURRENT_USER, path, `HKCU\`+path)
	if err != nil || got["lease_key"] != "key-1,key-2" {
		t.Errorf("lease_key as REG_MULTI_SZ = %q, %v; want the keys joined with commas", got["lease_key"], err)
	}

	if got, err := readPolicy(registry.CURRENT_USER, path+`\missing`, "missing"); err != nil || got != nil {
		t.Errorf("readPolicy of a missing key = %v, %v; want no policy", got, err)
	}
}
