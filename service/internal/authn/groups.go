package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// GraphGroups resolves a user's groups through Microsoft Graph, for tokens
// that carry no groups claim (the default registration) or the overage
// form instead of the groups. It trades the user's token for a Graph token
// with the on-behalf-of flow (azidentity, MSAL underneath) and lists
// GET /me/transitiveMemberOf: a mapping assigned to a group reaches the
// members of its nested groups too, as the groups claim would.
type GraphGroups struct {
	AuthorityHost string // as Config.AuthorityHost
	GraphURL      string // "https://graph.microsoft.com/v1.0"
	// GraphScope is the scope asked for on Graph; "" means
	// "https://graph.microsoft.com/.default" (the service's consented
	// Graph permissions).
	GraphScope   string
	ClientID     string // the service's app registration
	ClientSecret string
	HTTPClient   *http.Client
}

// maxGroupPages bounds the walk through a user's groups (999 a page).
const maxGroupPages = 100

// MemberOf returns the ids of the groups p belongs to, directly or
// through nested groups.
func (g *GraphGroups) MemberOf(ctx context.Context, p *Principal) ([]string, error) {
	tok, err := g.onBehalfOf(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []string
	next := strings.TrimSuffix(g.GraphURL, "/") + "/me/transitiveMemberOf?$select=id&$top=999"
	for page := 0; next != ""; page++ {
		if page >= maxGroupPages {
			return nil, fmt.Errorf("list groups of the caller: more than %d pages", maxGroupPages)
		}
		var body struct {
			Value []struct {
				Type string `json:"@odata.type"`
				ID   string `json:"id"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := g.get(ctx, next, tok, &body); err != nil {
			return nil, fmt.Errorf("list groups of the caller: %w", err)
		}
		for _, v := range body.Value {
			if v.Type == "" || v.Type == "#microsoft.graph.group" {
				out = append(out, strings.ToLower(v.ID))
			}
		}
		next = body.Next
	}
	return out, nil
}

func (g *GraphGroups) client() *http.Client {
	if g.HTTPClient != nil {
		return g.HTTPClient
	}
	return http.DefaultClient
}

// onBehalfOf returns a Graph token for p's user, from p's own token.
func (g *GraphGroups) onBehalfOf(ctx context.Context, p *Principal) (string, error) {
	opts := &azidentity.OnBehalfOfCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: strings.TrimSuffix(g.AuthorityHost, "/") + "/"},
			Transport: g.client(),
		},
		// The authority is configured, not discovered: sovereign clouds
		// and the simulator are not in the public instance list.
		DisableInstanceDiscovery: true,
	}
	cred, err := azidentity.NewOnBehalfOfCredentialWithSecret(p.TenantID, g.ClientID, p.Token.Reveal(), g.ClientSecret, opts)
	if err != nil {
		return "", fmt.Errorf("on-behalf-of credential: %w", err)
	}
	scope := g.GraphScope
	if scope == "" {
		scope = "https://graph.microsoft.com/.default"
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return "", fmt.Errorf("on-behalf-of token: %w", err)
	}
	return tok.Token, nil
}

func (g *GraphGroups) get(ctx context.Context, u, tok string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := g.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", strings.SplitN(u, "?", 2)[0], resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}
