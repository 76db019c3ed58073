package graph

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// BenchmarkDownload1GiB downloads one 1 GiB file through /content and the
// pre-authenticated URL over loopback TLS.
func BenchmarkDownload1GiB(b *testing.B) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Users[0].Drive.Files = []directory.File{{Path: "huge.bin", Size: 1 << 30}}
	start := time.Now()
	e := newEnvSeed(b, seed)
	b.Logf("materialized a 1 GiB seed file in %v", time.Since(start))
	tok := e.alice()
	buf := make([]byte, 1<<20)
	b.SetBytes(1 << 30)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		loc := e.do(req{path: "/v1.0/me/drive/root:/huge.bin:/content", tok: tok})
		io.Copy(io.Discard, loc.Body)
		loc.Body.Close()
		resp := e.do(req{path: loc.Header.Get("Location")})
		n, err := io.CopyBuffer(discard{}, struct{ io.Reader }{resp.Body}, buf)
		resp.Body.Close()
		if err != nil || n != 1<<30 {
			b.Fatalf("downloaded %d bytes: %v", n, err)
		}
	}
	// Process CPU time (server and client together) per GiB: on a loaded
	// machine wall time says more about the neighbours than about us.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/GiB")
}

// BenchmarkList10k lists a folder of 10,000 items through every page.
func BenchmarkList10k(b *testing.B) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Users[0].Drive.Files = []directory.File{{Path: "Many/file{n}.dat", Size: 4 << 10, Count: 10000}}
	start := time.Now()
	e := newEnvSeed(b, seed)
	b.Logf("materialized 10,000 files of 4 KiB in %v", time.Since(start))
	tok := e.alice()
	// The server alone, without TLS or a network client.
	b.Run("handler-only-default200", func(b *testing.B) {
		h := e.srv.Handler()
		for b.Loop() {
			n := 0
			next := e.base + "/v1.0/me/drive/root:/Many:/children"
			for next != "" {
				r := httptest.NewRequest("GET", next, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				var page struct {
					Value []json.RawMessage `json:"value"`
					Next  string            `json:"@odata.nextLink"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != 200 {
					b.Fatalf("status %d: %v", w.Code, err)
				}
				n += len(page.Value)
				next = page.Next
			}
			if n != 10000 {
				b.Fatalf("listed %d items", n)
			}
		}
	})
	for _, bc := range []struct{ name, query string }{{"top1000", "?$top=1000"}, {"default200", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				next := "/v1.0/me/drive/root:/Many:/children" + bc.query
				for next != "" {
					resp := e.do(req{path: next, tok: tok})
					var page struct {
						Value []json.RawMessage `json:"value"`
						Next  string            `json:"@odata.nextLink"`
					}
					err := json.NewDecoder(resp.Body).Decode(&page)
					resp.Body.Close()
					if resp.StatusCode != 200 || err != nil {
						b.Fatalf("status %d: %v", resp.StatusCode, err)
					}
					n += len(page.Value)
					next = page.Next
				}
				if n != 10000 {
					b.Fatalf("listed %d items", n)
				}
			}
		})
	}
}

// discard is io.Discard without ReadFrom, so that the copy uses the
// benchmark's large buffer instead of io.Discard's 8 KiB one.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
