// Package cloud owns the table of Microsoft clouds Mapdrive can be
// deployed in (global, US Government L4 and L5, China) and each one's
// endpoints: where users sign in, who issues their tokens, and where
// Microsoft Graph answers. The client and the service take their
// defaults from it, so a national cloud is one setting, not a set of
// URLs to guess.
package cloud

import (
	"fmt"
	"strings"
)

// Cloud is one Microsoft cloud's endpoints, from Microsoft's "Microsoft
// Graph national cloud deployments" (https://learn.microsoft.com/graph/deployments)
// and "Access national cloud deployments with the Microsoft Graph SDKs"
// (https://learn.microsoft.com/graph/sdks/national-clouds).
type Cloud struct {
	// Name is the setting's value: global, usgov, usgovdod or china.
	Name string
	// Description names the cloud as Microsoft does.
	Description string
	// AuthorityHost is the Entra ID endpoint users sign in at.
	AuthorityHost string
	// V1IssuerHost and V2IssuerHost are the hosts of the issuers of v1.0
	// ("<host>/<tid>/") and v2.0 ("<host>/<tid>/v2.0") access tokens. In
	// China neither is the sign-in host.
	V1IssuerHost, V2IssuerHost string
	// GraphURL is Microsoft Graph's v1.0 service root.
	GraphURL string
}

// GraphResource is the Graph resource a scope such as ".default" must
// name in this cloud ("https://graph.microsoft.us"): the SDK page says a
// scope that contains the Graph domain must use the national cloud's.
func (c Cloud) GraphResource() string { return strings.TrimSuffix(c.GraphURL, "/v1.0") }

var clouds = []Cloud{
	{Name: "global", Description: "Microsoft Graph global service",
		AuthorityHost: "https://login.microsoftonline.com", V1IssuerHost: "https://sts.windows.net",
		V2IssuerHost: "https://login.microsoftonline.com", GraphURL: "https://graph.microsoft.com/v1.0"},
	{Name: "usgov", Description: "Microsoft Graph for US Government L4 (GCC High)",
		AuthorityHost: "https://login.microsoftonline.us", V1IssuerHost: "https://sts.windows.net",
		V2IssuerHost: "https://login.microsoftonline.us", GraphURL: "https://graph.microsoft.us/v1.0"},
	{Name: "usgovdod", Description: "Microsoft Graph for US Government L5 (DoD)",
		AuthorityHost: "https://login.microsoftonline.us", V1IssuerHost: "https://sts.windows.net",
		V2IssuerHost: "https://login.microsoftonline.us", GraphURL: "https://dod-graph.microsoft.us/v1.0"},
	{Name: "china", Description: "Microsoft Graph China operated by 21Vianet",
		AuthorityHost: "https://login.chinacloudapi.cn", V1IssuerHost: "https://sts.chinacloudapi.cn",
		V2IssuerHost: "https://login.partner.microsoftonline.cn", GraphURL: "https://microsoftgraph.chinacloudapi.cn/v1.0"},
}

// Default is the cloud used when none is configured.
const Default = "global"

// Names lists the clouds' names, in the table's order.
func Names() []string {
	out := make([]string, len(clouds))
	for i, c := range clouds {
		out[i] = c.Name
	}
	return out
}

// Lookup returns the cloud called name ("" is Default). An unknown name
// gets an error that lists the known ones.
func Lookup(name string) (Cloud, error) {
	if name == "" {
		name = Default
	}
	for _, c := range clouds {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Cloud{}, fmt.Errorf("unknown cloud %q: set cloud to one of %s", name, strings.Join(Names(), ", "))
}

// Known reports whether host (a URL's scheme and host) is the sign-in
// host of one of the clouds, where instance discovery works.
func Known(authority string) bool {
	for _, c := range clouds {
		if strings.HasPrefix(authority+"/", c.AuthorityHost+"/") {
			return true
		}
	}
	return false
}
