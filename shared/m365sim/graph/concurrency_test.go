package graph

import (
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentWritersKeepCountsAndQuotaConsistent(t *testing.T) {
	e := newEnvSeed(t, smallQuotaSeed())
	e.call(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: e.alice(), body: map[string]any{"name": "C", "folder": map[string]any{}}}).want(t, 201)
	tok := e.alice()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				r := e.call(req{method: "PUT", path: fmt.Sprintf("/v1.0/me/drive/root:/C/g%d-%d.txt:/content", g, i), tok: tok, body: "0123456789"})
				if r.status != 201 {
					errs <- fmt.Errorf("upload: %d %s", r.status, r.raw)
				}
				// Everyone also writes the same name: one creates, the rest replace.
				r = e.call(req{method: "PUT", path: "/v1.0/me/drive/root:/C/shared.txt:/content", tok: tok, body: "abc"})
				if r.status != 201 && r.status != 200 {
					errs <- fmt.Errorf("shared upload: %d %s", r.status, r.raw)
				}
				if r := e.call(req{path: "/v1.0/me/drive/root:/C:/children?$top=3", tok: tok}); r.status != 200 {
					errs <- fmt.Errorf("list: %d", r.status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := e.call(req{path: "/v1.0/me/drive/root:/C", tok: tok}).want(t, 200)
	if n := c.get("folder", "childCount").(float64); n != 41 {
		t.Errorf("childCount = %v, want 41", n)
	}
	if sz := c.get("size").(float64); sz != 40*10+3 {
		t.Errorf("folder size = %v, want %d", sz, 40*10+3)
	}
	d := e.call(req{path: "/v1.0/me/drive", tok: tok}).want(t, 200)
	if used := d.get("quota", "used").(float64); used != 40*10+3 {
		t.Errorf("quota.used = %v, want %d", used, 40*10+3)
	}
}
