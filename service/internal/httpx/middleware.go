package httpx

import (
	"context"
	lru "github.com/hashicorp/golang-lru/v2"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// RequestInfo is what handlers tell the request log about a request. Set
// only from the request's own goroutine.
type RequestInfo struct {
	Tenant string // the caller's tenant GUID, once known
}

type infoKey struct{}

// Info returns the request's RequestInfo (a throwaway one outside the
// logging middleware).
func Info(ctx context.Context) *RequestInfo {
	if i, ok := ctx.Value(infoKey{}).(*RequestInfo); ok {
		return i
	}
	return &RequestInfo{}
}

// Metrics are the HTTP metrics. Labels are route patterns, methods and
// status codes: never paths, users or tenants.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mapdrive_http_requests_total", Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mapdrive_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mapdrive_http_requests_in_flight", Help: "HTTP requests being served."}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Observe wraps the whole server: it recovers panics (logged without the
// request), logs one line per request and records metrics. next must be
// (or wrap) the ServeMux, whose route pattern it reads after routing.
func Observe(log *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &RequestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("handler panic", "route", r.Pattern, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					WriteProblem(sw, Errorf(http.StatusInternalServerError, apitype.ServiceCodeInternal, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			d := time.Since(start)
			m.requests.WithLabelValues(route, r.Method, itoa(code)).Inc()
			m.duration.WithLabelValues(route).Observe(d.Seconds())
			lvl := slog.LevelDebug // successes: debug, to keep info logs small at thousands of validations/s
			switch {
			case code >= 500:
				lvl = slog.LevelWarn
			case code >= 400:
				lvl = slog.LevelInfo
			}
			log.Log(r.Context(), lvl, "request", "route", route, "method", r.Method, "status", code, "ms", float64(d.Microseconds())/1000, "tenant", info.Tenant)
		}()
		next.ServeHTTP(sw, r)
	})
}

func itoa(code int) string {
	const digits = "0123456789"
	if code >= 100 && code < 1000 {
		return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
	}
	return "000"
}

// SecurityHeaders sets headers every API answer carries.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// RateLimiter is a token bucket per key (a tenant), held in this replica:
// with N replicas a tenant gets up to N times the rate. Safe for
// concurrent use.
type RateLimiter struct {
	rate  rate.Limit // immutable
	burst int        // immutable
	now   func() time.Time

	mu sync.Mutex // guards buckets
	// buckets holds the most recently used keys' buckets; past
	// maxBuckets the least recently used is dropped, in constant time, so
	// many distinct addresses cost memory up to the bound and no scans.
	buckets *lru.Cache[string, *bucket]
}

// maxBuckets bounds the keys a RateLimiter remembers.
const maxBuckets = 100_000

type bucket struct {
	lim *rate.Limiter
}

// NewRateLimiter allows perSecond requests per key on average, with bursts
// of burst.
func NewRateLimiter(perSecond float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	buckets, _ := lru.New[string, *bucket](maxBuckets) // only fails for a size < 1
	return &RateLimiter{rate: rate.Limit(perSecond), burst: burst, now: now, buckets: buckets}
}

// Blocked reports whether key's bucket is empty, without taking a token,
// and how long until it is not.
func (l *RateLimiter) Blocked(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := l.buckets.Peek(key)
	if b == nil || b.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	r := b.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return true, max(d, time.Second)
}

// Allow takes a token of key's bucket. When none is left it returns false
// and how long until one is.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	b, _ := l.buckets.Get(key)
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets.Add(key, b)
	}
	r := b.lim.ReserveN(now, 1)
	l.mu.Unlock()
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
