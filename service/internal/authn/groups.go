package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// GraphGroups resolves a user's groups through Microsoft Graph when the
// token carries the groups overage claim instead of the groups: it trades
// the user's token for a Graph token with the on-behalf-of flow, then
// lists GET /me/memberOf.
type GraphGroups struct {
	AuthorityHost string // as Config.AuthorityHost
	GraphURL      string // "https://graph.microsoft.com/v1.0"
	ClientID      string // the service's app registration
	ClientSecret  string
	HTTPClient    *http.Client
}

// MemberOf returns the group ids p is a direct member of.
func (g *GraphGroups) MemberOf(ctx context.Context, p *Principal) ([]string, error) {
	tok, err := g.onBehalfOf(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []string
	next := strings.TrimSuffix(g.GraphURL, "/") + "/me/memberOf?$select=id"
	for page := 0; next != "" && page < 100; page++ {
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

func (g *GraphGroups) onBehalfOf(ctx context.Context, p *Principal) (string, error) {
	form := url.Values{
		"grant_type":          {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"client_id":           {g.ClientID},
		"client_secret":       {g.ClientSecret},
		"assertion":           {p.Token.Reveal()},
		"scope":               {"https://graph.microsoft.com/GroupMember.Read.All"},
		"requested_token_use": {"on_behalf_of"},
	}
	u := strings.TrimSuffix(g.AuthorityHost, "/") + "/" + p.TenantID + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("on-behalf-of token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("on-behalf-of token: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("on-behalf-of token: status %d, error %q", resp.StatusCode, body.Error)
	}
	return body.AccessToken, nil
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
