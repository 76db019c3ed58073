package graph

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkCreateFolder measures one metadata write through the API.
func BenchmarkCreateFolder(b *testing.B) {
	e := newEnv(b)
	tok := e.alice()
	i := 0
	for b.Loop() {
		i++
		r := e.do(req{method: "POST", path: "/v1.0/me/drive/root/children", tok: tok, body: map[string]any{"name": fmt.Sprint("f", i), "folder": map[string]any{}}})
		io.Copy(io.Discard, r.Body) // drained, so the connection is reused
		r.Body.Close()
		if r.StatusCode != 201 {
			b.Fatalf("status %d", r.StatusCode)
		}
	}
}
