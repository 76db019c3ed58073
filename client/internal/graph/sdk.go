package graph

import (
	"fmt"
	"net/http"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	kiotaauth "github.com/microsoft/kiota-abstractions-go/authentication"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
	kiotajson "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/sites"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// sdkClient is the part of msgraph-sdk-go's GraphServiceClient this
// package uses: /me, /drives, /groups and /sites. The SDK's root package
// imports a request builder for every Graph resource (87 packages); naming
// the four builders instead cuts a cold compile of the SDK by about a
// third, in every build variant (linux, race, windows).
type sdkClient struct {
	params  map[string]string
	adapter abstractions.RequestAdapter
}

// newSDKClient builds the SDK's request adapter over hc, with JSON as the
// only wire format, held in registries of its own rather than the kiota
// process-wide defaults.
func newSDKClient(base string, hc *http.Client) (*sdkClient, error) {
	parsers := serialization.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = kiotajson.NewJsonParseNodeFactory()
	writers := serialization.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = kiotajson.NewJsonSerializationWriterFactory()
	// The bearer token is added by pacedTransport, which also renews it on
	// 401; the SDK's own authentication and middleware (retry, redirect)
	// are bypassed by handing it our client.
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		&kiotaauth.AnonymousAuthenticationProvider{}, core.GraphClientOptions{}, parsers, writers, hc)
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(base)
	// As the SDK's own client does: models track which fields were set.
	adapter.EnableBackingStore(store.BackingStoreFactoryInstance)
	return &sdkClient{params: map[string]string{"baseurl": base}, adapter: adapter}, nil
}

// pathParams copies the base parameters: builders keep and modify theirs.
func (s *sdkClient) pathParams() map[string]string {
	p := make(map[string]string, len(s.params)+1)
	for k, v := range s.params {
		p[k] = v
	}
	return p
}

// Me is /me. The SDK spells it as the user item "me-token-to-replace";
// pacedTransport rewrites that path to /me (see meToken).
func (s *sdkClient) Me() *users.UserItemRequestBuilder {
	p := s.pathParams()
	p["user%2Did"] = "me-token-to-replace"
	return users.NewUserItemRequestBuilderInternal(p, s.adapter)
}

// Drives is /drives.
func (s *sdkClient) Drives() *drives.DrivesRequestBuilder {
	return drives.NewDrivesRequestBuilderInternal(s.pathParams(), s.adapter)
}

// Groups is /groups.
func (s *sdkClient) Groups() *groups.GroupsRequestBuilder {
	return groups.NewGroupsRequestBuilderInternal(s.pathParams(), s.adapter)
}

// Sites is /sites.
func (s *sdkClient) Sites() *sites.SitesRequestBuilder {
	return sites.NewSitesRequestBuilderInternal(s.pathParams(), s.adapter)
}
