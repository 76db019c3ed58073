package api

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/logredact"
)

// Benchmarks of the client path over loopback TLS: licence validations
// (token check, tenant, seat, mappings, lease signature) and mapping
// fetches. Run with
//
//	go test -run XXX -bench . -benchtime 5s ./internal/api/
//
// after sourcing scripts/test-env.sh for the PostgreSQL figures. They
// report requests/s and p50/p99 latency; nothing is asserted.
func BenchmarkValidateSQLite(b *testing.B) { benchClient(b, testenv.SQLite(b), "POST", "/v1/validate") }

func BenchmarkValidatePostgres(b *testing.B) {
	db, ok := testenv.Postgres(b)
	if !ok {
		b.Skip("PostgreSQL not available (source scripts/test-env.sh)")
	}
	benchClient(b, db, "POST", "/v1/validate")
}

func BenchmarkMappingsSQLite(b *testing.B) { benchClient(b, testenv.SQLite(b), "GET", "/v1/mappings") }

func BenchmarkMappingsPostgres(b *testing.B) {
	db, ok := testenv.Postgres(b)
	if !ok {
		b.Skip("PostgreSQL not available (source scripts/test-env.sh)")
	}
	benchClient(b, db, "GET", "/v1/mappings")
}

func benchClient(b *testing.B, db testenv.DB, method, path string) {
	e := newEnv(b, db, func(c *Config) {
		c.Log = logredact.NewJSON(io.Discard, slog.LevelInfo)
		c.RateLimit, c.RateBurst = 1e9, 1e9
	})
	adm := e.token("contoso", "admin")
	e.do("POST", "/v1/tenants/"+e.contoso.ID+"/mappings", adm, e.financeMapping())
	users := []string{"alice", "bob", "admin"}
	toks := make([]string, len(users))
	for i, u := range users {
		toks[i] = e.token("contoso", u)
		if r := e.do(method, path, toks[i], nil); r.status != http.StatusOK {
			b.Fatalf("warm-up %s = %d %s", u, r.status, r.body)
		}
	}
	tr := e.client.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	par := 8 // × GOMAXPROCS concurrent clients
	if v, err := strconv.Atoi(os.Getenv("MAPDRIVE_BENCH_PARALLELISM")); err == nil && v > 0 {
		par = v
	}
	b.SetParallelism(par)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest(method, e.srv.URL+path, nil)
			if method == "POST" {
				req.Body = io.NopCloser(strings.NewReader(`{"clientVersion":"0.1.0"}`))
				req.ContentLength = 25
			}
			req.Header.Set("Authorization", "Bearer "+toks[i%len(toks)])
			i++
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
