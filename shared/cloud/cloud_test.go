package cloud

import (
	"strings"
	"testing"
)

// Each cloud's endpoints, as Microsoft's national-cloud pages list them.
func TestEachCloud(t *testing.T) {
	for _, tc := range []struct {
		name, authority, v1, v2, graph, resource string
	}{
		{"global", "https://login.microsoftonline.com", "https://sts.windows.net", "https://login.microsoftonline.com",
			"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com"},
		{"usgov", "https://login.microsoftonline.us", "https://sts.windows.net", "https://login.microsoftonline.us",
			"https://graph.microsoft.us/v1.0", "https://graph.microsoft.us"},
		{"usgovdod", "https://login.microsoftonline.us", "https://sts.windows.net", "https://login.microsoftonline.us",
			"https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us"},
		{"china", "https://login.chinacloudapi.cn", "https://sts.chinacloudapi.cn", "https://login.partner.microsoftonline.cn",
			"https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Lookup(strings.ToUpper(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{c.AuthorityHost, c.V1IssuerHost, c.V2IssuerHost, c.GraphURL, c.GraphResource()}
			want := []string{tc.authority, tc.v1, tc.v2, tc.graph, tc.resource}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("field %d = %q, want %q", i, got[i], want[i])
				}
			}
			if !Known(c.AuthorityHost + "/organizations") {
				t.Errorf("Known(%s/organizations) = false", c.AuthorityHost)
			}
		})
	}
	if c, err := Lookup(""); err != nil || c.Name != "global" {
		t.Errorf(`Lookup("") = %v, %v; want global`, c.Name, err)
	}
	_, err := Lookup("germany")
	if err == nil || !strings.Contains(err.Error(), "global, usgov, usgovdod, china") {
		t.Errorf("Lookup(germany) = %v, want an error listing the clouds", err)
	}
	if Known("https://localhost:9443/organizations") || Known("https://login.microsoftonline.com.evil.example") {
		t.Error("Known accepted a host that is no cloud's")
	}
}
