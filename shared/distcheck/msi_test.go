package distcheck

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/version"
)

// policyValues maps each public property to the value it writes under
// HKLM\SOFTWARE\Policies\Mapdrive: the client's config keys
// (client/internal/config reads them by these names).
var policyValues = []struct {
	prop, name, value string
}{
	{"SERVICEURL", "service_url", "[SERVICEURL]"},
	{"SERVICESCOPE", "service_scope", "[SERVICESCOPE]"},
	{"TENANTID", "tenant_id", "[TENANTID]"},
	{"CLIENTID", "client_id", "[CLIENTID]"},
	{"AUTHORITY", "authority", "[AUTHORITY]"},
	{"AUTOSTART", "autostart", "#[AUTOSTART]"}, // REG_DWORD
	{"CACHEMAXGB", "cache_max_gb", "[CACHEMAXGB]"},
	{"LEASEKEY", "lease_key", "[LEASEKEY]"},
}

func exportTables(t *testing.T, msi string, names ...string) map[string]*Table {
	t.Helper()
	tables := map[string]*Table{}
	for _, n := range names {
		tab, err := ExportTable(context.Background(), msi, n)
		if err != nil {
			t.Fatal(err)
		}
		tables[n] = tab
	}
	return tables
}

func TestMSITables(t *testing.T) {
	d := buildDist(t)
	tabs := exportTables(t, d.msi, "Property", "Registry", "Component", "Upgrade", "LaunchCondition",
		"Shortcut", "CustomAction", "InstallExecuteSequence", "InstallUISequence", "AppSearch", "RegLocator",
		"File", "Directory")

	t.Run("Property", func(t *testing.T) {
		p := tabs["Property"]
		want := map[string]string{
			"ProductCode":    "{" + version.ProductCode(d.version) + "}",
			"UpgradeCode":    "{" + version.UpgradeCode + "}",
			"ProductVersion": version.MSIVersion(d.version),
			"ProductName":    "Mapdrive",
			"Manufacturer":   "Mapdrive",
			"ALLUSERS":       "1",
			"ARPNOMODIFY":    "1",
		}
		for k, v := range want {
			if got, ok := p.Value("Property", k, "Value"); !ok || got != v {
				t.Errorf("Property %s = %q (present %v), want %q", k, got, ok, v)
			}
		}
		// No default for AUTOSTART in the table: it would beat the remembered value.
		if rows := p.Find("Property", "AUTOSTART"); len(rows) != 0 {
			t.Errorf("Property AUTOSTART has a row %v; its default must come from the DefaultAutoStart action", rows)
		}
		secure, _ := p.Value("Property", "SecureCustomProperties", "Value")
		set := map[string]bool{}
		for _, s := range strings.Split(secure, ";") {
			set[s] = true
		}
		props := []string{"NEWERVERSIONDETECTED", "OLDERVERSIONBEINGUPGRADED"}
		for _, pv := range policyValues {
			props = append(props, pv.prop)
		}
		for _, prop := range props {
			if !set[prop] {
				t.Errorf("SecureCustomProperties = %q, missing %s", secure, prop)
			}
		}
	})

	t.Run("Registry", func(t *testing.T) {
		reg, comp := tabs["Registry"], tabs["Component"]
		for _, pv := range policyValues {
			rows := reg.Find("Name", pv.name)
			if len(rows) != 1 {
				t.Errorf("Registry rows named %s: %d, want 1", pv.name, len(rows))
				continue
			}
			r := rows[0]
			if r["Root"] != "2" || r["Key"] != `SOFTWARE\Policies\Mapdrive` || r["Value"] != pv.value {
				t.Errorf("Registry %s = root %s key %s value %s; want HKLM (2) SOFTWARE\\Policies\\Mapdrive %s",
					pv.name, r["Root"], r["Key"], r["Value"], pv.value)
			}
			// Values are written only when set (AUTOSTART always is).
			if cond, _ := comp.Value("Component", r["Component_"], "Condition"); cond != pv.prop {
				if !(pv.prop == "AUTOSTART" && cond == "") {
					t.Errorf("component %s of %s has condition %q, want %q", r["Component_"], pv.name, cond, pv.prop)
				}
			}
		}
		run := reg.Find("Key", `SOFTWARE\Microsoft\Windows\CurrentVersion\Run`)
		if len(run) != 1 || run[0]["Root"] != "2" || run[0]["Name"] != "Mapdrive" ||
			run[0]["Value"] != `"[INSTALLDIR]mapdrive-tray.exe" --at-login` {
			// --at-login makes the tray quit when the user turned start at login off.
			t.Fatalf("HKLM Run rows = %v, want one Mapdrive = \"[INSTALLDIR]mapdrive-tray.exe\" --at-login", run)
		}
		if cond, _ := comp.Value("Component", run[0]["Component_"], "Condition"); cond != `AUTOSTART = "1"` {
			t.Errorf("Run key component condition = %q, want AUTOSTART = \"1\"", cond)
		}
	})

	t.Run("Components", func(t *testing.T) {
		for _, c := range tabs["Component"].Rows {
			attr, err := strconv.Atoi(c["Attributes"])
			if err != nil || attr&256 == 0 {
				t.Errorf("component %s attributes %s: not 64-bit (msidbComponentAttributes64bit)", c["Component"], c["Attributes"])
			}
			if !strings.HasPrefix(c["ComponentId"], "{") {
				t.Errorf("component %s has no fixed GUID: %q", c["Component"], c["ComponentId"])
			}
		}
		files := map[string]bool{}
		for _, f := range tabs["File"].Rows {
			files[f["FileName"]] = true
		}
		for _, want := range []string{"mapdrive.exe", "mapdrive-tray.exe"} {
			found := false
			for n := range files {
				// FileName is "short|long" or just the name.
				if n == want || strings.HasSuffix(n, "|"+want) {
					found = true
				}
			}
			if !found {
				t.Errorf("File table %v lacks %s", files, want)
			}
		}
		if dir, ok := tabs["Directory"].Value("Directory", "INSTALLDIR", "Directory_Parent"); !ok || dir != "ProgramFiles64Folder" {
			t.Errorf("INSTALLDIR parent = %q, want ProgramFiles64Folder", dir)
		}
	})

	t.Run("Upgrade", func(t *testing.T) {
		up := tabs["Upgrade"]
		// Attributes: 2 = OnlyDetect, 256 = VersionMinInclusive, 512 = VersionMaxInclusive.
		newer := up.Find("ActionProperty", "NEWERVERSIONDETECTED")
		if len(newer) != 1 || newer[0]["VersionMin"] != version.MSIVersion(d.version) || newer[0]["VersionMax"] != "" || newer[0]["Attributes"] != "2" {
			t.Errorf("NEWERVERSIONDETECTED rows = %v, want min %s exclusive, OnlyDetect (2)", newer, version.MSIVersion(d.version))
		}
		older := up.Find("ActionProperty", "OLDERVERSIONBEINGUPGRADED")
		if len(older) != 1 || older[0]["VersionMin"] != "0.0.0" || older[0]["VersionMax"] != version.MSIVersion(d.version) || older[0]["Attributes"] != "256" {
			t.Errorf("OLDERVERSIONBEINGUPGRADED rows = %v, want [0.0.0, %s) removing (256)", older, version.MSIVersion(d.version))
		}
		for _, r := range up.Rows {
			if r["UpgradeCode"] != "{"+version.UpgradeCode+"}" {
				t.Errorf("Upgrade row %v has another UpgradeCode", r)
			}
		}
		if seq, ok := tabs["InstallExecuteSequence"].Value("Action", "RemoveExistingProducts", "Sequence"); !ok || seq != "1401" {
			t.Errorf("RemoveExistingProducts sequence = %q, want 1401 (between InstallValidate and InstallInitialize)", seq)
		}
	})

	t.Run("LaunchCondition", func(t *testing.T) {
		lc := tabs["LaunchCondition"]
		for cond, msgPart := range map[string]string{
			"Installed OR NOT NEWERVERSIONDETECTED":           "newer version",
			`Installed OR AUTOSTART = "0" OR AUTOSTART = "1"`: "AUTOSTART",
			"Installed OR NOT CACHEMAXGB OR CACHEMAXGB > 0":   "CACHEMAXGB",
			"VersionNT64 >= 603":                              "64-bit",
		} {
			msg, ok := lc.Value("Condition", cond, "Description")
			if !ok || !strings.Contains(msg, msgPart) {
				t.Errorf("launch condition %q: message %q (present %v), want one mentioning %q", cond, msg, ok, msgPart)
			}
		}
	})

	t.Run("Shortcut", func(t *testing.T) {
		sc := tabs["Shortcut"].Rows
		if len(sc) != 1 {
			t.Fatalf("Shortcut rows = %v, want 1", sc)
		}
		s := sc[0]
		if s["Directory_"] != "ProgramMenuFolder" || s["Name"] != "Mapdrive" || s["Target"] != "[INSTALLDIR]mapdrive-tray.exe" || s["Icon_"] == "" {
			t.Errorf("Start Menu shortcut = %v, want Mapdrive in ProgramMenuFolder targeting mapdrive-tray.exe with an icon", s)
		}
	})

	t.Run("DetectWinFsp", func(t *testing.T) {
		// WinFsp's install folder into WINFSPDIR, from its key in the
		// 32-bit view (2: raw, no 64-bit flag); no launch condition on it.
		as, rl, lc := tabs["AppSearch"], tabs["RegLocator"], tabs["LaunchCondition"]
		sig, ok := as.Value("Property", "WINFSPDIR", "Signature_")
		if !ok {
			t.Fatal("AppSearch has no row for WINFSPDIR")
		}
		loc := rl.Find("Signature_", sig)
		if len(loc) != 1 || loc[0]["Root"] != "2" || loc[0]["Key"] != `SOFTWARE\WinFsp` || loc[0]["Name"] != "InstallDir" || loc[0]["Type"] != "2" {
			t.Errorf("RegLocator %s = %v, want HKLM SOFTWARE\\WinFsp InstallDir, raw, 32-bit view (2)", sig, loc)
		}
		for _, row := range lc.Rows {
			if strings.Contains(row["Condition"], "WINFSPDIR") {
				t.Errorf("LaunchCondition %v needs WinFsp; the install must succeed without it", row)
			}
		}
	})

	t.Run("RememberProperties", func(t *testing.T) {
		ca, exec, ui := tabs["CustomAction"], tabs["InstallExecuteSequence"], tabs["InstallUISequence"]
		as, rl := tabs["AppSearch"], tabs["RegLocator"]
		appSearch, _ := exec.Value("Action", "AppSearch", "Sequence")
		appSeq, _ := strconv.Atoi(appSearch)
		for _, pv := range policyValues {
			sig, ok := as.Value("Property", pv.prop, "Signature_")
			if !ok {
				t.Errorf("AppSearch has no row for %s", pv.prop)
				continue
			}
			// Type 2 raw | 16 64-bit view.
			loc := rl.Find("Signature_", sig)
			if len(loc) != 1 || loc[0]["Root"] != "2" || loc[0]["Key"] != `SOFTWARE\Policies\Mapdrive` ||
				loc[0]["Name"] != pv.name || loc[0]["Type"] != "18" {
				t.Errorf("RegLocator %s = %v, want HKLM policy value %s, raw, 64-bit (18)", sig, loc, pv.name)
			}
			for _, step := range []struct {
				action, target string
				before         bool
			}{
				{"SaveCmd", "CMDLINE_" + pv.prop, true},
				{"RestoreCmd", pv.prop, false},
			} {
				var action string
				for _, r := range ca.Find("Source", step.target) {
					if strings.HasPrefix(r["Action"], step.action) {
						action = r["Action"]
						if r["Type"] != "51" {
							t.Errorf("custom action %s type %s, want 51 (set property)", action, r["Type"])
						}
					}
				}
				if action == "" {
					t.Errorf("no %s custom action setting %s", step.action, step.target)
					continue
				}
				for name, seqTab := range map[string]*Table{"execute": exec, "UI": ui} {
					s, ok := seqTab.Value("Action", action, "Sequence")
					n, _ := strconv.Atoi(s)
					if !ok || (step.before && n >= appSeq) || (!step.before && n <= appSeq) {
						t.Errorf("%s sequence runs %s at %q; AppSearch is at %d and it must run %s it",
							name, action, s, appSeq, map[bool]string{true: "before", false: "after"}[step.before])
					}
				}
			}
		}
		for _, a := range []string{"DefaultAutoStart", "RememberedAutoStartOn", "RememberedAutoStartOff"} {
			s, ok := exec.Value("Action", a, "Sequence")
			n, _ := strconv.Atoi(s)
			lcs, _ := exec.Value("Action", "LaunchConditions", "Sequence")
			lcn, _ := strconv.Atoi(lcs)
			if !ok || n <= appSeq || n >= lcn {
				t.Errorf("%s at %q, want between AppSearch (%d) and LaunchConditions (%d)", a, s, appSeq, lcn)
			}
		}
	})

	t.Run("Environment", func(t *testing.T) {
		env, err := ExportTable(context.Background(), d.msi, "Environment")
		if err != nil {
			t.Fatal(err)
		}
		// = set on install, - remove on uninstall, * system; [~]; appends.
		if len(env.Rows) != 1 || env.Rows[0]["Name"] != "=-*PATH" || env.Rows[0]["Value"] != "[~];[INSTALLDIR]" ||
			env.Rows[0]["Component_"] != "AgentCLI" {
			t.Errorf("Environment = %v, want PATH appended with [INSTALLDIR] by AgentCLI", env.Rows)
		}
		for action, want := range map[string]string{"WriteEnvironmentStrings": "5200", "RemoveEnvironmentStrings": "3300"} {
			if seq, ok := tabs["InstallExecuteSequence"].Value("Action", action, "Sequence"); !ok || seq != want {
				t.Errorf("%s sequence = %q, want %s", action, seq, want)
			}
		}
	})

	t.Run("SummaryInformation", func(t *testing.T) {
		info, err := SummaryInfo(context.Background(), d.msi)
		if err != nil {
			t.Fatal(err)
		}
		if info["Template"] != "x64;1033" {
			t.Errorf("Template = %q, want x64;1033", info["Template"])
		}
		if !strings.HasPrefix(info["Version"], "500") {
			t.Errorf("Version (schema) = %q, want 500", info["Version"])
		}
	})
}
