package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"testing"
)

func TestUsersDriveAliasesAndItemsRoot(t *testing.T) {
	e := newEnv(t)
	u := e.dir.Tenant("contoso").User("alice")
	for _, p := range []string{
		"/v1.0/users/" + u.ID + "/drive",
		"/v1.0/users/alice@contoso.com/drive/root:/Documents",
		"/v1.0/drives/" + e.driveOf("contoso", "alice") + "/items/root",
		"/v1.0/me/drive/items/root/children",
		"/v1.0/users/" + u.ID,
		"/v1.0/users/" + u.ID + "/drives",
	} {
		e.call(req{path: p, tok: e.alice()}).want(t, 200)
	}
	e.call(req{path: "/v1.0/users/bob@contoso.com/drive", tok: e.alice()}).want(t, 403, "accessDenied")
	e.call(req{path: "/v1.0/users/nobody/drive", tok: e.alice()}).want(t, 404, "itemNotFound")
}

func TestUserWithoutADriveGets404(t *testing.T) {
	seed := pagingSeed(1)
	seed.Tenants[0].Users[1].Drive = nil // bob
	e := newEnvSeed(t, seed)
	e.call(req{path: "/v1.0/me/drive", tok: e.bob()}).want(t, 404, "itemNotFound")
	r := e.call(req{path: "/v1.0/me/drives", tok: e.bob()}).want(t, 200)
	if len(r.values()) != 0 {
		t.Errorf("drives = %s", r.raw)
	}
}

func TestBatchCarriesBinaryBodiesAsBase64(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "PUT", "url": "/me/drive/root:/b.bin:/content", "headers": map[string]string{"Content-Type": "application/octet-stream"},
			"body": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 3})},
	}}}).want(t, 200)
	resp := r.get("responses").([]any)[0].(map[string]any)
	if resp["status"].(float64) != 201 || mget(resp, "body", "size").(float64) != 4 {
		t.Errorf("batch PUT = %v", resp)
	}
}

func TestGzipRequestBodiesAreAccepted(t *testing.T) {
	e := newEnv(t)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"name":"Zipped","folder":{}}`))
	zw.Close()
	r := e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: zb.Bytes(),
		hdr: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}}).want(t, 201)
	if r.str("name") != "Zipped" {
		t.Errorf("created = %s", r.raw)
	}
	e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: "not gzip",
		hdr: map[string]string{"Content-Encoding": "gzip"}}).want(t, 400, "invalidRequest")
	e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: "x",
		hdr: map[string]string{"Content-Encoding": "br"}}).want(t, 415, "invalidRequest")
}
