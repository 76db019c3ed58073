package graph

import (
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	r := e.call(req{path: "/v1.0/me", tok: e.alice()}).want(t, 200)
	t.Logf("%s", r.raw)
	r = e.call(req{path: "/v1.0/me/drive/root/children", tok: e.alice()}).want(t, 200)
	t.Logf("%s", r.raw)
	r = e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt", tok: e.alice()}).want(t, 200)
	t.Logf("%s", r.raw)
	r = e.call(req{path: "/v1.0/me/drive/root:/Documents/Welcome.txt:/content", tok: e.alice()}).want(t, http.StatusFound)
	loc := r.header.Get("Location")
	r = e.call(req{path: loc}).want(t, 200)
	t.Logf("%q", r.raw)
}
