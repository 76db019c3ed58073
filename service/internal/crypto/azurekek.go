package crypto

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// AzureKEK wraps data keys with an RSA key in Azure Key Vault
// (wrapkey/unwrapkey, RSA-OAEP-256). The key never leaves the vault. To
// rotate, create a new version of the key in Key Vault (or let its
// rotation policy do it) and run `mapdrive-service keys rotate`: Wrap
// always uses the newest version, and older versions keep unwrapping.
type AzureKEK struct {
	client  *azkeys.Client // immutable
	keyName string
}

// AzureKEKOptions configure NewAzureKEK.
type AzureKEKOptions struct {
	// Credential authenticates to Key Vault. Nil means the managed
	// identity (ManagedIdentityClientID selects a user-assigned one).
	Credential              azcore.TokenCredential
	ManagedIdentityClientID string
	// Client carries transport options (tests point it at a fake vault).
	Client *azkeys.ClientOptions
}

// ParseAzureKeyURL splits "https://<vault>.vault.azure.net/keys/<name>"
// into the vault URL and the key name.
func ParseAzureKeyURL(keyURL string) (vault, name string, err error) {
	u, err := url.Parse(keyURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("key vault key URL %q: want https://<vault>/keys/<name>", keyURL)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "keys" || parts[1] == "" {
		return "", "", fmt.Errorf("key vault key URL %q: want https://<vault>/keys/<name>", keyURL)
	}
	return "https://" + u.Host + "/", parts[1], nil
}

// NewAzureKEK returns a provider for the Key Vault key at keyURL
// ("https://<vault>.vault.azure.net/keys/<name>").
func NewAzureKEK(keyURL string, opts AzureKEKOptions) (*AzureKEK, error) {
	vault, name, err := ParseAzureKeyURL(keyURL)
	if err != nil {
		return nil, err
	}
	cred := opts.Credential
	if cred == nil {
		var miOpts azidentity.ManagedIdentityCredentialOptions
		if opts.ManagedIdentityClientID != "" {
			miOpts.ID = azidentity.ClientID(opts.ManagedIdentityClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(&miOpts)
		if err != nil {
			return nil, fmt.Errorf("managed identity: %w", err)
		}
	}
	c, err := azkeys.NewClient(vault, cred, opts.Client)
	if err != nil {
		return nil, fmt.Errorf("key vault client: %w", err)
	}
	return &AzureKEK{client: c, keyName: name}, nil
}

// Name implements KEK.
func (k *AzureKEK) Name() string { return "azurekv" }

var rsaOAEP256 = azkeys.EncryptionAlgorithmRSAOAEP256

// Wrap implements KEK with the newest version of the key. The returned id
// is the versioned key id Key Vault reports.
func (k *AzureKEK) Wrap(ctx context.Context, dek []byte) (string, []byte, error) {
	resp, err := k.client.WrapKey(ctx, k.keyName, "", azkeys.KeyOperationParameters{Algorithm: &rsaOAEP256, Value: dek}, nil)
	if err != nil {
		return "", nil, fmt.Errorf("key vault wrapkey %s: %w", k.keyName, err)
	}
	if resp.KID == nil || len(resp.Result) == 0 {
		return "", nil, errors.New("key vault wrapkey: empty answer")
	}
	return string(*resp.KID), resp.Result, nil
}

// Unwrap implements KEK with the key version named by kekID.
func (k *AzureKEK) Unwrap(ctx context.Context, kekID string, wrapped []byte) ([]byte, error) {
	name, version, err := parseKeyID(kekID)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.UnwrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: &rsaOAEP256, Value: wrapped}, nil)
	if err != nil {
		return nil, fmt.Errorf("key vault unwrapkey %s/%s: %w", name, version, err)
	}
	return resp.Result, nil
}

// Rotate implements KEK. Key Vault owns rotation; there is nothing to do
// here but re-wrap, which Wrap does with the newest version.
func (k *AzureKEK) Rotate(context.Context) error { return nil }

// parseKeyID splits a versioned key id "https://<vault>/keys/<name>/<version>".
// (azkeys.ID's accessors panic on malformed ids.)
func parseKeyID(kid string) (name, version string, err error) {
	u, err := url.Parse(kid)
	if err == nil {
		p := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(p) == 3 && p[0] == "keys" && p[1] != "" && p[2] != "" {
			return p[1], p[2], nil
		}
	}
	return "", "", fmt.Errorf("unwrap: %q is not a versioned key vault key id", kid)
}
