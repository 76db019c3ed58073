package distcheck

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/version"
)

// TestProductCodeMatchesDistScript checks that dist.sh names each version's
// ProductCode as package version defines it (it asks
// shared/cmd/mapdrive-release), so the detection rule the docs and the
// portal give is the one the MSI has.
func TestProductCodeMatchesDistScript(t *testing.T) {
	requireTools(t, "bash", "go")
	root := repoRoot(t)
	versions := []string{"0.1.0", "0.0.1", "1.2.3", "10.20.300", "2.0.0-rc.1"}
	seen := map[string]string{}
	for _, v := range versions {
		out, err := exec.Command("bash", root+"/scripts/dist.sh", "product-code", v).Output()
		if err != nil {
			t.Fatalf("dist.sh product-code %s: %v", v, err)
		}
		got := strings.TrimSpace(string(out))
		if want := version.ProductCode(v); got != want {
			t.Errorf("dist.sh product-code %s = %s, Go ProductCode = %s", v, got, want)
		}
		if prev, ok := seen[got]; ok && version.MSIVersion(prev) != version.MSIVersion(v) {
			t.Errorf("versions %s and %s share ProductCode %s", prev, v, got)
		}
		seen[got] = v
	}
	if version.ProductCode("2.0.0-rc.1") != version.ProductCode("2.0.0") {
		t.Error("a pre-release and its release must share the MSI version and so the ProductCode")
	}
}

func TestVersions(t *testing.T) {
	tests := []struct{ in, deb string }{
		{"0.1.0", "0.1.0"},
		{"1.2.3-rc.1", "1.2.3~rc.1"},
	}
	for _, tt := range tests {
		if got := DebVersion(tt.in); got != tt.deb {
			t.Errorf("DebVersion(%s) = %s, want %s", tt.in, got, tt.deb)
		}
	}
}

func TestParseIDT(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Table
		wantErr bool
	}{
		{
			name: "registry",
			in: "Registry\tRoot\tKey\tName\tValue\tComponent_\r\n" +
				"s72\ti2\tl255\tL255\tL0\ts72\r\n" +
				"Registry\tRegistry\r\n" +
				"r1\t2\tSOFTWARE\\Policies\\Mapdrive\tservice_url\t[SERVICEURL]\tPolicyServiceURL\r\n" +
				"r2\t2\tSOFTWARE\\Mapdrive\t\t\tEmpty\r\n",
			want: &Table{
				Name:    "Registry",
				Columns: []string{"Registry", "Root", "Key", "Name", "Value", "Component_"},
				Types:   []string{"s72", "i2", "l255", "L255", "L0", "s72"},
				Keys:    []string{"Registry"},
				Rows: []Row{
					{"Registry": "r1", "Root": "2", "Key": `SOFTWARE\Policies\Mapdrive`, "Name": "service_url", "Value": "[SERVICEURL]", "Component_": "PolicyServiceURL"},
					{"Registry": "r2", "Root": "2", "Key": `SOFTWARE\Mapdrive`, "Name": "", "Value": "", "Component_": "Empty"},
				},
			},
		},
		{
			name: "escaped control characters and short rows",
			in:   "A\tB\ns72\tS255\nT\tA\nx\tline1\x19line2\x15tab\ny\n",
			want: &Table{
				Name: "T", Columns: []string{"A", "B"}, Types: []string{"s72", "S255"}, Keys: []string{"A"},
				Rows: []Row{{"A": "x", "B": "line1\nline2\ttab"}, {"A": "y", "B": ""}},
			},
		},
		{name: "too short", in: "A\tB\ns72\tS255\n", wantErr: true},
		{name: "types mismatch", in: "A\tB\ns72\nT\tA\n", wantErr: true},
		{name: "row too long", in: "A\ns72\nT\tA\nx\ty\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIDT(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseIDT = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIDT: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseIDT =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestTableLookup(t *testing.T) {
	tab := &Table{Rows: []Row{{"K": "a", "V": "1"}, {"K": "b", "V": "2"}, {"K": "b", "V": "3"}}}
	if v, ok := tab.Value("K", "a", "V"); !ok || v != "1" {
		t.Errorf(`Value(K, a, V) = %q, %v, want "1", true`, v, ok)
	}
	if _, ok := tab.Value("K", "b", "V"); ok {
		t.Error("Value(K, b, V) reported one row, want false: there are two")
	}
	if n := len(tab.Find("K", "c")); n != 0 {
		t.Errorf("Find(K, c) = %d rows, want 0", n)
	}
}

func TestParseRegQuery(t *testing.T) {
	out := "\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Mapdrive\r\n" +
		"    authority    REG_SZ    https://login.example.com/org\r\n" +
		"    autostart    REG_DWORD    0x1\r\n" +
		"    empty    REG_SZ    \r\n" +
		"    (Default)    REG_SZ    with    spaces\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Mapdrive\\Sub\r\n"
	want := map[string]RegValue{
		"authority": {Type: "REG_SZ", Data: "https://login.example.com/org"},
		"autostart": {Type: "REG_DWORD", Data: "0x1"},
		"empty":     {Type: "REG_SZ", Data: ""},
		"(Default)": {Type: "REG_SZ", Data: "with    spaces"},
	}
	if got := ParseRegQuery(out); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRegQuery =\n%#v\nwant\n%#v", got, want)
	}
}

func TestParseControl(t *testing.T) {
	in := "Package: mapdrive\nVersion: 0.1.0\nDepends: libc6 (>= 2.34), fuse, libfuse2\n" +
		"Description: Microsoft 365 storage as local drives\n Mapdrive mounts...\n more.\n"
	got := ParseControl(in)
	want := map[string]string{
		"Package":     "mapdrive",
		"Version":     "0.1.0",
		"Depends":     "libc6 (>= 2.34), fuse, libfuse2",
		"Description": "Microsoft 365 storage as local drives\nMapdrive mounts...\nmore.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseControl =\n%#v\nwant\n%#v", got, want)
	}
}

func TestParseDebContents(t *testing.T) {
	in := "drwxr-xr-x root/root         0 2026-11-25 17:00 ./\n" +
		"-rwxr-xr-x root/root  12345678 2026-11-25 17:00 ./usr/bin/mapdrive\n" +
		"-rw-r--r-- root/root       300 2026-11-25 17:00 ./usr/share/applications/my app.desktop\n" +
		"lrwxrwxrwx root/root         0 2026-11-25 17:00 ./usr/bin/md -> mapdrive\n"
	want := []DebFile{
		{Mode: "drwxr-xr-x", Owner: "root/root", Path: "/"},
		{Mode: "-rwxr-xr-x", Owner: "root/root", Path: "/usr/bin/mapdrive"},
		{Mode: "-rw-r--r--", Owner: "root/root", Path: "/usr/share/applications/my app.desktop"},
		{Mode: "lrwxrwxrwx", Owner: "root/root", Path: "/usr/bin/md"},
	}
	if got := ParseDebContents(in); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDebContents =\n%#v\nwant\n%#v", got, want)
	}
}

func TestWinePaths(t *testing.T) {
	w := &Wine{Prefix: "/tmp/pfx"}
	tests := []struct {
		win, want string
		wantErr   bool
	}{
		{`C:\Program Files\Mapdrive\mapdrive.exe`, "/tmp/pfx/drive_c/Program Files/Mapdrive/mapdrive.exe", false},
		{`c:\users\root\`, "/tmp/pfx/drive_c/users/root", false},
		{`Z:\tmp\x.msi`, "/tmp/x.msi", false},
		{`D:\x`, "", true},
		{`relative\x`, "", true},
	}
	for _, tt := range tests {
		got, err := w.UnixPath(tt.win)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("UnixPath(%q) = %q, %v; want %q, error %v", tt.win, got, err, tt.want, tt.wantErr)
		}
	}
	if got := WinPath("/tmp/x.msi"); got != `Z:\tmp\x.msi` {
		t.Errorf(`WinPath(/tmp/x.msi) = %s, want Z:\tmp\x.msi`, got)
	}
}

func TestMSILogProperty(t *testing.T) {
	log := "Action ended 5:32:33: INSTALL. Return value 0.\r\n" +
		"Property(S): NEWERVERSIONDETECTED = {909E7FF2-2021-558E-8553-702C0BF1B14B}\r\n" +
		"Property(C): ProgramMenuFolder = C:\\client\\\r\n" +
		"Property(S): ProgramMenuFolder = C:\\ProgramData\\Start Menu\\Programs\\\r\n"
	if v, ok := MSILogProperty(log, "NEWERVERSIONDETECTED"); !ok || v != "{909E7FF2-2021-558E-8553-702C0BF1B14B}" {
		t.Errorf("MSILogProperty(NEWERVERSIONDETECTED) = %q, %v", v, ok)
	}
	if v, ok := MSILogProperty(log, "ProgramMenuFolder"); !ok || v != `C:\ProgramData\Start Menu\Programs\` {
		t.Errorf("MSILogProperty(ProgramMenuFolder) = %q, %v; want the server-side value", v, ok)
	}
	if _, ok := MSILogProperty(log, "OLDERVERSIONBEINGUPGRADED"); ok {
		t.Error("MSILogProperty(OLDERVERSIONBEINGUPGRADED) found a property that is not in the log")
	}
}

func TestMissingTools(t *testing.T) {
	got := MissingTools("sh", "/bin/sh", "no-such-tool-mapdrive", "/no/such/tool")
	want := []string{"no-such-tool-mapdrive", "/no/such/tool"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MissingTools =\n%#v\nwant\n%#v", got, want)
	}
	if _, err := Output(context.Background(), "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Output of a failing command: err = %v, want one carrying its stderr", err)
	}
}

func TestLaunchFailed(t *testing.T) {
	tests := []struct {
		out  string
		want bool
	}{
		{"Application could not be started, or no application associated with the specified file.\nShellExecuteEx failed: Internal error.\n", true},
		{"ERROR: Unable to find the specified registry key\n", false},
		{"wine client error:0: recvmsg: Connection reset by peer\n", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := launchFailed(tt.out); got != tt.want {
			t.Errorf("launchFailed(%q) = %v, want %v", tt.out, got, tt.want)
		}
	}
}
