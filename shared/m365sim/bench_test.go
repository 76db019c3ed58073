package m365sim

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// benchSeed is the demo seed with extra files in alice's OneDrive.
func benchSeed(files ...directory.File) *directory.Seed {
	s := directory.DemoSeed()
	for i := range s.Tenants[0].Users {
		if u := &s.Tenants[0].Users[i]; u.UserName == "alice" {
			u.Drive.Files = append(u.Drive.Files, files...)
		}
	}
	return s
}

// BenchmarkDownload1GiB downloads one seeded 1 GiB file through the whole
// stack: TLS, the gate, /content's 302 and the download URL. The target is
// at least 1 GB/s; the benchmark reports, it does not assert.
func BenchmarkDownload1GiB(b *testing.B) {
	const size = 1 << 30
	s := StartForTest(b, WithSeed(benchSeed(directory.File{Path: "big.bin", Size: size})))
	tok := userToken(b, s, "contoso", "alice")
	for _, proto := range []struct {
		name   string
		client *http.Client
	}{{"http1.1", h1Client(s)}, {"http2", h2Client(s)}} {
		b.Run(proto.name, func(b *testing.B) {
			buf := make([]byte, 1<<20)
			b.SetBytes(size)
			cpu0, iters := processCPU(), 0
			for b.Loop() {
				iters++
				r := do(b, proto.client, http.MethodGet, s.GraphURL()+"/me/drive/root:/big.bin:/content", tok, nil)
				if r.status != http.StatusFound {
					b.Fatalf("content = %d %s", r.status, r.body)
				}
				req, _ := http.NewRequest(http.MethodGet, r.header.Get("Location"), nil)
				resp, err := proto.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(discard{}, resp.Body, buf)
				resp.Body.Close()
				if err != nil || n != size || resp.StatusCode != http.StatusOK {
					b.Fatalf("download = %d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
			// CPU seconds per GiB, client and server together: the figure
			// that does not depend on how busy the shared machine is.
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()/float64(iters), "cpu-s/op")
			}
		})
	}
	// curl as the client, in its own process: cpu-s/op is then the
	// simulator's own cost per GiB, the figure that says whether it can be
	// the bottleneck.
	b.Run("curl", func(b *testing.B) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			b.Skipf("curl is not installed: %v", err)
		}
		c := h1Client(s)
		b.SetBytes(size)
		cpu0, child0, iters := processCPU(), childrenCPU(), 0
		for b.Loop() {
			iters++
			r := do(b, c, http.MethodGet, s.GraphURL()+"/me/drive/root:/big.bin:/content", tok, nil)
			if r.status != http.StatusFound {
				b.Fatalf("content = %d %s", r.status, r.body)
			}
			out, err := exec.Command(curl, "--silent", "--show-error", "--fail", "--http1.1", "--cacert", s.CAFile(),
				"--output", "/dev/null", "--write-out", "%{size_download}", r.header.Get("Location")).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(size) {
				b.Fatalf("curl: %v: %s", err, out)
			}
		}
		if cpu := processCPU() - cpu0; cpu > 0 {
			b.ReportMetric(cpu.Seconds()/float64(iters), "sim-cpu-s/op")
			b.ReportMetric((childrenCPU()-child0).Seconds()/float64(iters), "curl-cpu-s/op")
		}
	})
}

// discard is io.Discard without ReadFrom, whose 8 KiB buffer would make
// the client, not the simulator, the bottleneck.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkList10kFolder lists a folder of 10,000 files through Graph's
// default paging, following @odata.nextLink. The target is under 1 s per
// listing; the benchmark reports, it does not assert.
func BenchmarkList10kFolder(b *testing.B) {
	const count = 10_000
	s := StartForTest(b, WithSeed(benchSeed(directory.File{Path: "many/"}, directory.File{Path: "many/f{n}.txt", Size: 16, Count: count})))
	tok := userToken(b, s, "contoso", "alice")
	for _, proto := range []struct {
		name   string
		client *http.Client
	}{{"http1.1", h1Client(s)}, {"http2", h2Client(s)}} {
		b.Run(proto.name, func(b *testing.B) {
			for b.Loop() {
				n, pages := 0, 0
				next := s.GraphURL() + "/me/drive/root:/many:/children"
				for next != "" {
					r := do(b, proto.client, http.MethodGet, next, tok, nil)
					if r.status != http.StatusOK {
						b.Fatalf("page %d = %d %s", pages, r.status, r.body)
					}
					var page struct {
						Value    []json.RawMessage `json:"value"`
						NextLink string            `json:"@odata.nextLink"`
					}
					if err := json.Unmarshal(r.body, &page); err != nil {
						b.Fatal(err)
					}
					n += len(page.Value)
					pages++
					next = page.NextLink
				}
				if n != count {
					b.Fatalf("listed %d items in %d pages, want %d", n, pages, count)
				}
				b.ReportMetric(float64(pages), "pages/op")
			}
		})
	}
}
