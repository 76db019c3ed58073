package distcheck

import (
	"encoding/xml"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type admx struct {
	Categories []struct {
		Name string `xml:"name,attr"`
	} `xml:"categories>category"`
	SupportedOn []struct {
		Name string `xml:"name,attr"`
	} `xml:"supportedOn>definitions>definition"`
	Policies []admxPolicy `xml:"policies>policy"`
}

type admxPolicy struct {
	Name         string `xml:"name,attr"`
	Class        string `xml:"class,attr"`
	DisplayName  string `xml:"displayName,attr"`
	ExplainText  string `xml:"explainText,attr"`
	Presentation string `xml:"presentation,attr"`
	Key          string `xml:"key,attr"`
	ValueName    string `xml:"valueName,attr"`
	Parent       struct {
		Ref string `xml:"ref,attr"`
	} `xml:"parentCategory"`
	Supported struct {
		Ref string `xml:"ref,attr"`
	} `xml:"supportedOn"`
	Elements struct {
		Items []struct {
			XMLName     xml.Name
			ID          string `xml:"id,attr"`
			ValueName   string `xml:"valueName,attr"`
			StoreAsText string `xml:"storeAsText,attr"`
			EnumItems   []struct {
				DisplayName string `xml:"displayName,attr"`
			} `xml:"item"`
		} `xml:",any"`
	} `xml:"elements"`
}

type adml struct {
	Strings []struct {
		ID string `xml:"id,attr"`
	} `xml:"resources>stringTable>string"`
	Presentations []struct {
		ID    string `xml:"id,attr"`
		Inner []struct {
			RefID string `xml:"refId,attr"`
		} `xml:",any"`
	} `xml:"resources>presentationTable>presentation"`
}

// TestADMX checks that the ADMX template and its en-US ADML agree with each
// other and with the registry values the MSI writes.
func TestADMX(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "installer", "windows", "admx")
	var def admx
	var res adml
	for _, f := range []struct {
		path string
		into any
	}{{filepath.Join(dir, "Mapdrive.admx"), &def}, {filepath.Join(dir, "en-US", "Mapdrive.adml"), &res}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b, f.into); err != nil {
			t.Fatalf("parse %s: %v", f.path, err)
		}
	}
	stringIDs := map[string]bool{}
	for _, s := range res.Strings {
		stringIDs[s.ID] = true
	}
	presRefs := map[string]map[string]bool{}
	for _, p := range res.Presentations {
		presRefs[p.ID] = map[string]bool{}
		for _, in := range p.Inner {
			if in.RefID != "" {
				presRefs[p.ID][in.RefID] = true
			}
		}
	}
	ref := regexp.MustCompile(`^\$\((string|presentation)\.([A-Za-z0-9_]+)\)$`)
	resolve := func(attr, kind string) (string, bool) {
		m := ref.FindStringSubmatch(attr)
		if m == nil || m[1] != kind {
			return "", false
		}
		if kind == "string" {
			return m[2], stringIDs[m[2]]
		}
		_, ok := presRefs[m[2]]
		return m[2], ok
	}
	cats := map[string]bool{}
	for _, c := range def.Categories {
		cats[c.Name] = true
	}
	supported := map[string]bool{}
	for _, s := range def.SupportedOn {
		supported[s.Name] = true
	}

	written := map[string]string{} // value name -> policy
	for _, p := range def.Policies {
		if p.Class != "Machine" || p.Key != `Software\Policies\Mapdrive` {
			t.Errorf("policy %s: class %s key %s, want Machine under Software\\Policies\\Mapdrive", p.Name, p.Class, p.Key)
		}
		if !cats[p.Parent.Ref] || !supported[p.Supported.Ref] {
			t.Errorf("policy %s: category %q or supportedOn %q not defined", p.Name, p.Parent.Ref, p.Supported.Ref)
		}
		for _, attr := range []string{p.DisplayName, p.ExplainText} {
			if id, ok := resolve(attr, "string"); !ok {
				t.Errorf("policy %s: %q names no ADML string (%s)", p.Name, attr, id)
			}
		}
		if p.ValueName != "" {
			written[p.ValueName] = p.Name
		}
		if len(p.Elements.Items) > 0 {
			pres, ok := resolve(p.Presentation, "presentation")
			if !ok {
				t.Errorf("policy %s: presentation %q not in the ADML", p.Name, p.Presentation)
				continue
			}
			for _, el := range p.Elements.Items {
				if !presRefs[pres][el.ID] {
					t.Errorf("policy %s: element %s has no control in presentation %s", p.Name, el.ID, pres)
				}
				written[el.ValueName] = p.Name
				for _, it := range el.EnumItems {
					if id, ok := resolve(it.DisplayName, "string"); !ok {
						t.Errorf("policy %s: enum item %q names no ADML string (%s)", p.Name, it.DisplayName, id)
					}
				}
				if el.ValueName == "cache_max_gb" && el.StoreAsText != "true" {
					t.Error("cache_max_gb must be stored as text (REG_SZ), the form the MSI remembers")
				}
			}
		}
	}
	admxNames := map[string]bool{}
	for name := range written {
		admxNames[name] = true
	}
	checkPolicySets(t, root, admxNames)
	for _, s := range res.Strings {
		if strings.TrimSpace(s.ID) == "" {
			t.Error("ADML has a string without an id")
		}
	}
}

// TestWXSWellFormed parses the WiX source, so an XML slip fails here with
// a line number rather than as a wixl crash.
func TestWXSWellFormed(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "installer", "windows", "mapdrive.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	components := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			line, _ := d.InputPos()
			t.Fatalf("mapdrive.wxs line %d: %v", line, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Component" {
			continue
		}
		components++
		win64 := false
		for _, a := range se.Attr {
			if a.Name.Local == "Win64" && a.Value == "yes" {
				win64 = true
			}
		}
		if !win64 {
			line, _ := d.InputPos()
			t.Errorf("mapdrive.wxs line %d: Component without Win64=\"yes\" (wixl needs it on every component)", line)
		}
	}
	if components == 0 {
		t.Error("mapdrive.wxs has no components")
	}
}

// checkPolicySets cross-checks the value names under
// HKLM\SOFTWARE\Policies\Mapdrive that three parts of the product agree
// on: the Windows agent reads config.PolicyKeys (client/internal/config),
// the ADMX writes admx, and the MSI writes policyValues (each documented
// in the wxs header and in docs/deploy-intune.md). The agent and the ADMX
// must name the same set, so every policy the agent honours can be set
// from Intune or Group Policy and no ADMX policy is silently ignored; the
// MSI's properties are a subset (installation-time settings).
func checkPolicySets(t *testing.T, root string, admx map[string]bool) {
	t.Helper()
	reader := windowsPolicyReader(t, root)
	for _, name := range missingFrom(reader, admx) {
		t.Errorf("the Windows agent reads policy value %s (config.PolicyKeys) but no ADMX policy writes it", name)
	}
	for _, name := range missingFrom(admx, reader) {
		t.Errorf("an ADMX policy writes %s, which the Windows agent does not read (config.PolicyKeys)", name)
	}

	msi := map[string]bool{}
	for _, pv := range policyValues {
		msi[pv.name] = true
		if !reader[pv.name] {
			t.Errorf("installer property %s writes %s, which the Windows agent does not read (config.PolicyKeys)", pv.prop, pv.name)
		}
	}

	// The wxs source itself, so a missing property fails here without
	// building the MSI (TestMSITables checks the built tables).
	b, err := os.ReadFile(filepath.Join(root, "installer", "windows", "mapdrive.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	wxs := string(b)
	regValue := regexp.MustCompile(`<RegistryValue Root="HKLM" Key="SOFTWARE\\Policies\\Mapdrive" Name="([a-z_]+)"`)
	wxsWrites := map[string]bool{}
	for _, m := range regValue.FindAllStringSubmatch(wxs, -1) {
		wxsWrites[m[1]] = true
	}
	for _, name := range missingFrom(msi, wxsWrites) {
		t.Errorf("mapdrive.wxs writes no policy value %s", name)
	}
	for _, name := range missingFrom(wxsWrites, msi) {
		t.Errorf("mapdrive.wxs writes policy value %s, which policyValues (msi_test.go) does not list", name)
	}
	header, _, _ := strings.Cut(wxs, "<Wix ")
	docRow := regexp.MustCompile(`(?m)^\s+([A-Z]+)\s+-> ([a-z_]+)\s`)
	documented := map[string]string{}
	for _, m := range docRow.FindAllStringSubmatch(header, -1) {
		documented[m[1]] = m[2]
	}
	intune, err := os.ReadFile(filepath.Join(root, "docs", "deploy-intune.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pv := range policyValues {
		if documented[pv.prop] != pv.name {
			t.Errorf("mapdrive.wxs header documents %s -> %q, want %s", pv.prop, documented[pv.prop], pv.name)
		}
		if !strings.Contains(wxs, `<Property Id="`+pv.prop+`">`) {
			t.Errorf("mapdrive.wxs has no remembered Property %s", pv.prop)
		}
		if !strings.Contains(string(intune), "`"+pv.prop+"`") {
			t.Errorf("docs/deploy-intune.md does not document installer property %s", pv.prop)
		}
		delete(documented, pv.prop)
	}
	for prop := range documented {
		t.Errorf("mapdrive.wxs header documents property %s, which policyValues (msi_test.go) does not list", prop)
	}
}

// windowsPolicyReader returns the value names the Windows agent reads
// from its policy key: the string literals of config.PolicyKeys, parsed
// from the client's source (another module's internal package, so it
// cannot be imported), after checking that the Windows reader loops over
// PolicyKeys.
func windowsPolicyReader(t *testing.T, root string) map[string]bool {
	t.Helper()
	dir := filepath.Join(root, "client", "internal", "config")
	src, err := os.ReadFile(filepath.Join(dir, "policy_windows.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "range PolicyKeys") {
		t.Fatal("client/internal/config/policy_windows.go no longer reads the names in PolicyKeys; update this test to what it reads")
	}
	// The one table of client settings (settings.go): each row is
	// {Key, Flag, Policy, Default, Usage}; Policy true means machine
	// policy sets it (config.PolicyKeys).
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "settings.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "Settings" || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		found = true
		for _, e := range lit.Elts {
			row, ok := e.(*ast.CompositeLit)
			if !ok || len(row.Elts) != 5 {
				t.Fatalf("config.Settings holds %T, not a {Key, Flag, Policy, Default, Usage} row", e)
			}
			bl, ok := row.Elts[0].(*ast.BasicLit)
			key, err := strconv.Unquote(bl.Value)
			pol, ok2 := row.Elts[2].(*ast.Ident)
			if !ok || !ok2 || err != nil {
				t.Fatal("config.Settings: a row's key is not a string literal or its Policy not true/false")
			}
			if pol.Name == "true" {
				names[key] = true
			}
		}
		return false
	})
	if !found || len(names) == 0 {
		t.Fatal("no var Settings = []Setting{...} in client/internal/config/settings.go")
	}
	return names
}

// missingFrom returns the names in a that b lacks, sorted.
func missingFrom(a, b map[string]bool) []string {
	var out []string
	for n := range a {
		if !b[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
