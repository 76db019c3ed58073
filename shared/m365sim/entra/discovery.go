package entra

import (
	"net/http"
)

// discoveryDoc is the OpenID Connect discovery document, shaped as Entra's v2.0 one.
type discoveryDoc struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
}

// issuerTemplate is the multi-tenant issuer, as /common publishes it.
func (s *Server) issuerTemplate() string { return s.base + "/{tenantid}/v2.0" }

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	t, multi, oe := s.tenantFromPath(r)
	if oe != nil {
		oe.code = "invalid_tenant"
		s.writeError(w, r, oe)
		return
	}
	// A tenant named by domain or short name answers with its GUID, as
	// Entra does; common and organizations keep their name and the
	// issuer template.
	seg, iss := r.PathValue("tenant"), s.issuerTemplate()
	if !multi {
		seg, iss = t.ID, s.issuer(t.ID)
	}
	ep := s.base + "/" + seg
	doc := discoveryDoc{
		TokenEndpoint:                     ep + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           ep + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            iss,
		AuthorizationEndpoint:             ep + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       ep + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                ep + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		CodeChallengeMethodsSupported: []string{"plain", "S256"},
		GrantTypesSupported:           []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		CloudInstanceName:             "microsoftonline.com",
		CloudGraphHostName:            "graph.windows.net",
		MSGraphHost:                   "graph.microsoft.com",
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	if _, _, oe := s.tenantFromPath(r); oe != nil {
		oe.code = "invalid_tenant"
		s.writeError(w, r, oe)
		return
	}
	// Entra's keys are shared by every tenant and carry the issuer template.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=86400, private")
	_, _ = w.Write(s.keys.JWKS(s.issuerTemplate()))
}
