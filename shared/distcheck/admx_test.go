package distcheck

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
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
				if el.ValueName == "cache_max_gb" && el.StoreAsText != "true" {
					t.Error("cache_max_gb must be stored as text (REG_SZ), the form the MSI remembers")
				}
			}
		}
	}
	for _, pv := range policyValues {
		if _, ok := written[pv.name]; !ok {
			t.Errorf("no ADMX policy writes %s (installer property %s)", pv.name, pv.prop)
		}
	}
	if len(written) != len(policyValues) {
		t.Errorf("ADMX writes %v, want exactly the MSI's %d policy values", written, len(policyValues))
	}
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
