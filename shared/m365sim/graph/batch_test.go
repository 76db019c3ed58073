package graph

import (
	"fmt"
	"testing"
)

func TestBatchRunsRequestsWithTheCallersToken(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/me"},
		{"id": "2", "method": "GET", "url": "me/drive/root:/Documents/Welcome.txt:/content"},
		{"id": "3", "method": "POST", "url": "/me/drive/root/children", "headers": map[string]string{"Content-Type": "application/json"},
			"body": map[string]any{"name": "FromBatch", "folder": map[string]any{}}},
		{"id": "4", "method": "GET", "url": "/me/drive/items/nope"},
	}}}).want(t, 200)
	got := map[string]map[string]any{}
	for _, v := range r.get("responses").([]any) {
		m := v.(map[string]any)
		got[m["id"].(string)] = m
	}
	if got["1"]["status"].(float64) != 200 || mget(got["1"], "body", "displayName") != "Alice Anders" {
		t.Errorf("1 = %v", got["1"])
	}
	if got["2"]["status"].(float64) != 302 || mget(got["2"], "headers", "Location") == nil {
		t.Errorf("2 = %v", got["2"])
	}
	if got["3"]["status"].(float64) != 201 {
		t.Errorf("3 = %v", got["3"])
	}
	if got["4"]["status"].(float64) != 404 || mget(got["4"], "body", "error", "code") != "itemNotFound" {
		t.Errorf("4 = %v", got["4"])
	}
}

func TestBatchAllowsAtMost20Requests(t *testing.T) {
	e := newEnv(t)
	var reqs []map[string]any
	for i := range 21 {
		reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/me"})
	}
	e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": reqs}}).want(t, 400, "invalidRequest")
	e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": reqs[:20]}}).want(t, 200)
}

func TestBatchDuplicateIDGives400(t *testing.T) {
	e := newEnv(t)
	e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/me"}, {"id": "1", "method": "GET", "url": "/me/drive"},
	}}}).want(t, 400, "invalidRequest")
}

func TestBatchFailedDependencyGives424(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{method: "POST", path: "/v1.0/$batch", tok: e.alice(), body: map[string]any{"requests": []map[string]any{
		{"id": "a", "method": "GET", "url": "/me/drive/items/missing"},
		{"id": "b", "method": "DELETE", "url": "/me/drive/root:/Documents/Notes.md", "dependsOn": []string{"a"}},
		{"id": "c", "method": "GET", "url": "/me", "dependsOn": []string{"b"}},
	}}}).want(t, 200)
	st := map[string]float64{}
	for _, v := range r.get("responses").([]any) {
		m := v.(map[string]any)
		st[m["id"].(string)] = m["status"].(float64)
	}
	if st["a"] != 404 || st["b"] != 424 || st["c"] != 424 {
		t.Errorf("statuses = %v", st)
	}
	e.call(req{path: "/v1.0/me/drive/root:/Documents/Notes.md", tok: e.alice()}).want(t, 200)
}

func TestBatchNeedsAuthentication(t *testing.T) {
	e := newEnv(t)
	e.call(req{method: "POST", path: "/v1.0/$batch", body: map[string]any{"requests": []map[string]any{{"id": "1", "method": "GET", "url": "/me"}}}}).want(t, 401)
}
