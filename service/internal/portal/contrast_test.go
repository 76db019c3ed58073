package portal

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestContrast checks the stylesheet's text colours against WCAG 2.1 AA
// (4.5:1 for body text) on the backgrounds they are used on.
func TestContrast(t *testing.T) {
	css, err := staticFS.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	pairs := []struct{ name, fg, bg string }{
		{"text", vars["fg"], vars["bg"]},
		{"muted text", vars["muted"], vars["bg"]},
		{"muted text on grey", vars["muted"], vars["soft"]},
		{"links", vars["accent-dark"], vars["bg"]},
		{"errors", vars["danger"], vars["bg"]},
		{"primary button", "#ffffff", vars["accent"]},
		{"header", "#ffffff", "#0d2a4a"},
		{"flash", "#0f5323", "#dafbe1"},
		{"command", "#e6edf3", "#0d1117"},
		{"chart seats label", "#8a4600", "#ffffff"},
	}
	for _, p := range pairs {
		if p.fg == "" || p.bg == "" {
			t.Fatalf("%s: colour variable missing from portal.css", p.name)
		}
		if r := contrast(p.fg, p.bg); r < 4.5 {
			t.Errorf("%s: %s on %s has contrast %.2f, want at least 4.5", p.name, p.fg, p.bg, r)
		}
	}
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}
