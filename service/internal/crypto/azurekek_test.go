package crypto

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// fakeVault is a small HTTPS fake of Key Vault's wrapkey/unwrapkey REST
// endpoints (POST /keys/{name}/{version}/wrapkey|unwrapkey), with the
// bearer challenge the SDK expects and RSA-OAEP-256 done for real.
type fakeVault struct {
	mu       sync.Mutex
	versions []string                   // newest last
	keys     map[string]*rsa.PrivateKey // by version
	srv      *httptest.Server
	authed   int
}

func newFakeVault(t *testing.T) *fakeVault {
	v := &fakeVault{keys: map[string]*rsa.PrivateKey{}}
	v.newVersion(t)
	v.srv = httptest.NewTLSServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *fakeVault) newVersion(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ver := fmt.Sprintf("%032x", len(v.versions)+1)
	v.versions = append(v.versions, ver)
	v.keys[ver] = k
}

func (v *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer fake-token" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	v.mu.Lock()
	v.authed++
	v.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // keys, name, [version], op
	if len(parts) == 3 {
		parts = []string{parts[0], parts[1], "", parts[2]}
	}
	if r.Method != http.MethodPost || len(parts) != 4 || parts[0] != "keys" || parts[1] != "kek" {
		http.Error(w, `{"error":{"code":"NotFound"}}`, http.StatusNotFound)
		return
	}
	var body struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Alg != "RSA-OAEP-256" {
		http.Error(w, `{"error":{"code":"BadParameter"}}`, http.StatusBadRequest)
		return
	}
	val, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(body.Value, "="))
	if err != nil {
		http.Error(w, `{"error":{"code":"BadParameter"}}`, http.StatusBadRequest)
		return
	}
	v.mu.Lock()
	ver := parts[2]
	if ver == "" {
		ver = v.versions[len(v.versions)-1]
	}
	key := v.keys[ver]
	v.mu.Unlock()
	if key == nil {
		http.Error(w, `{"error":{"code":"KeyNotFound"}}`, http.StatusNotFound)
		return
	}
	var out []byte
	switch parts[3] {
	case "wrapkey":
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, val, nil)
	case "unwrapkey":
		out, err = rsa.DecryptOAEP(sha256.New(), nil, key, val, nil)
	default:
		err = fmt.Errorf("op %s", parts[3])
	}
	if err != nil {
		http.Error(w, `{"error":{"code":"BadParameter","message":"crypto failed"}}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"kid":   v.srv.URL + "/keys/kek/" + ver,
		"value": base64.RawURLEncoding.EncodeToString(out),
	})
}

type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestAzureKEKAgainstFakeVault(t *testing.T) {
	ctx := context.Background()
	vault := newFakeVault(t)
	opts := &azkeys.ClientOptions{DisableChallengeResourceVerification: true}
	opts.Transport = vault.srv.Client()
	opts.Retry.MaxRetries = -1
	k, err := NewAzureKEK(vault.srv.URL+"/keys/kek", AzureKEKOptions{Credential: staticCred{}, Client: opts})
	if err != nil {
		t.Fatal(err)
	}
	dek, _ := NewKey()
	id1, w1, err := k.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id1, "/keys/kek/"+fmt.Sprintf("%032x", 1)) {
		t.Errorf("kek id = %s", id1)
	}
	vault.newVersion(t) // rotation in Key Vault
	id2, w2, err := k.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id1 {
		t.Error("Wrap did not use the newest key version")
	}
	for _, c := range []struct {
		id string
		w  []byte
	}{{id1, w1}, {id2, w2}} {
		got, err := k.Unwrap(ctx, c.id, c.w)
		if err != nil || !bytes.Equal(got, dek) {
			t.Errorf("Unwrap(%s) = %x, %v", c.id, got, err)
		}
	}
	if _, err := k.Unwrap(ctx, id2, w1); err == nil {
		t.Error("Unwrap with the wrong version succeeded")
	}
	if _, err := k.Unwrap(ctx, "not-an-id", w1); err == nil {
		t.Error("Unwrap of a bad key id succeeded")
	}
	if vault.authed == 0 {
		t.Error("no authenticated request reached the vault")
	}
}

func TestParseAzureKeyURL(t *testing.T) {
	v, n, err := ParseAzureKeyURL("https://mapdrive-kv.vault.azure.net/keys/kek")
	if err != nil || v != "https://mapdrive-kv.vault.azure.net/" || n != "kek" {
		t.Errorf("ParseAzureKeyURL = %q %q %v", v, n, err)
	}
	for _, bad := range []string{"http://x/keys/k", "https://x/secrets/k", "https://x/keys/", "::"} {
		if _, _, err := ParseAzureKeyURL(bad); err == nil {
			t.Errorf("ParseAzureKeyURL(%q) succeeded", bad)
		}
	}
}
