package m365sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// gate is the middleware in front of the Graph and Entra handlers: it
// attributes each request to a user, applies the injected faults, counts
// requests and remembers which user each pre-authenticated URL was handed to.
type gate struct {
	// Immutable after construction.
	dir      *directory.Directory
	now      func() time.Time
	log      *slog.Logger
	faults   *faults
	counters *counters
	hints    *hints

	bufs sync.Pool // of *[]byte, copy buffers of recorders

	labelMu sync.Mutex // guards labels
	labels  map[userKey]string
}

func newGate(dir *directory.Directory, now func() time.Time, log *slog.Logger, seed uint64) *gate {
	g := &gate{dir: dir, now: now, log: log, faults: newFaults(dir, now, seed), counters: newCounters(now()),
		hints: newHints(maxHints), labels: map[userKey]string{}}
	g.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	return g
}

// maxCapture bounds how much of a JSON response the gate reads for
// pre-authenticated URLs.
const maxCapture = 8 << 20

// errDropped is what a dropped body's reads and writes fail with.
var errDropped = errors.New("m365sim: connection dropped by fault injection")

// wrap returns next behind the gate.
func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := Classify(r)
		u := g.userOf(r)
		label := g.label(u)
		now := g.now()
		d := g.faults.decide(class, r.Method, u, now)
		ev := ThrottleEvent{At: now, Route: class, Method: r.Method, Early: d.early}
		if d.answer != nil && d.answer.throttled {
			ev.Throttled, ev.RetryAfter = true, d.answer.retryAfter
		}
		g.counters.throttleEvent(label, ev)
		if d.offline {
			g.counters.add(class, r.Method, 0, label)
			abortConn(w)
			return
		}
		if d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		setRateLimitHeaders(w.Header(), d.rateLimit, d.answer)
		if d.answer != nil {
			g.counters.add(class, r.Method, d.answer.status, label)
			writeFaultAnswer(w, r, class, d.answer)
			return
		}
		rec := &recorder{ResponseWriter: w, limit: -1, bufs: &g.bufs}
		if d.rate > 0 {
			rec.pace = newPacer(r.Context(), d.rate)
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = &pacedReader{ReadCloser: r.Body, pace: newPacer(r.Context(), d.rate)}
			}
		}
		if d.dropAfter >= 0 {
			if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
				r.Body = &dropReader{ReadCloser: r.Body, left: d.dropAfter, rec: rec}
			} else {
				rec.limit = d.dropAfter
			}
		}
		if u.known() && capturesURLs(class) {
			rec.capture = &bytes.Buffer{}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// A bug behind the gate must not cost the client more than this
			// request: answer 500 as Graph would, or cut the stream.
			g.log.Error("handler panic", "route", class, "method", r.Method, "panic", v, "stack", string(debug.Stack()))
			g.counters.add(class, r.Method, http.StatusInternalServerError, label)
			if rec.status != 0 || rec.dropped {
				panic(http.ErrAbortHandler)
			}
			writeFaultAnswer(w, r, class, errorAnswer(http.StatusInternalServerError, 0))
		}()
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if rec.dropped {
			g.counters.add(class, r.Method, status, label)
			panic(http.ErrAbortHandler)
		}
		g.counters.add(class, r.Method, status, label)
		if u.known() {
			g.rememberURLs(u, rec)
		}
	})
}

// capturesURLs reports whether responses of this class may hand out
// pre-authenticated URLs in their body.
func capturesURLs(class RouteClass) bool {
	switch class {
	case RouteMetadata, RouteChildren, RouteDelta, RouteUpload, RouteBatch:
		return true
	}
	return false
}

// rememberURLs notes which user each pre-authenticated URL in a response
// was handed to, so that faults per user apply to its use too.
func (g *gate) rememberURLs(u userKey, rec *recorder) {
	if loc := rec.Header().Get("Location"); loc != "" {
		g.hints.add(loc, u)
	}
	if rec.capture == nil || rec.capture.Len() == 0 || rec.capture.Len() >= maxCapture ||
		!strings.Contains(rec.Header().Get("Content-Type"), "json") {
		return
	}
	for _, s := range jsonStringsAfter(rec.capture.Bytes(), `"@microsoft.graph.downloadUrl"`, `"uploadUrl"`, `"Location"`) {
		g.hints.add(s, u)
	}
}

// userOf attributes a request: by the bearer token's tid and oid (read,
// not verified: the handler behind verifies), else by the user the
// pre-authenticated URL was handed to.
func (g *gate) userOf(r *http.Request) userKey {
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return claimsUser(auth[7:])
	}
	if p := r.URL.Path; strings.HasPrefix(p, downloadPrefix) || strings.HasPrefix(p, uploadPrefix) || strings.HasPrefix(p, monitorPrefix) {
		return g.hints.get(r.URL.RequestURI())
	}
	return userKey{}
}

// claimsUser reads tid and oid from a JWT's payload without verifying it.
func claimsUser(jwt string) userKey {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return userKey{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return userKey{}
	}
	var c struct {
		Tid string `json:"tid"`
		Oid string `json:"oid"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Tid == "" || c.Oid == "" {
		return userKey{}
	}
	return userKey{tid: strings.ToLower(c.Tid), oid: strings.ToLower(c.Oid)}
}

// label names u in counters: "tenant/userName", the raw ids when the
// directory does not know them, or "" when unknown.
func (g *gate) label(u userKey) string {
	if !u.known() {
		return ""
	}
	g.labelMu.Lock()
	defer g.labelMu.Unlock()
	if l, ok := g.labels[u]; ok {
		return l
	}
	l := u.tid + "/" + u.oid
	if t := g.dir.Tenant(u.tid); t != nil {
		if usr := t.User(u.oid); usr != nil {
			l = t.Name + "/" + usr.UserName
		}
	}
	if len(g.labels) < 10_000 {
		g.labels[u] = l
	}
	return l
}

// lookupUser finds a user by tenant and user keys (names, domains, UPNs or
// ids).
func lookupUser(dir *directory.Directory, tenant, user string) (*directory.Tenant, *directory.User, error) {
	t := dir.Tenant(tenant)
	if t == nil {
		return nil, nil, fmt.Errorf("unknown tenant %q", tenant)
	}
	u := t.User(user)
	if u == nil {
		return nil, nil, fmt.Errorf("unknown user %q in tenant %s", user, t.Name)
	}
	return t, u, nil
}

// setRateLimitHeaders adds SharePoint's RateLimit-* headers: rl's when
// given, and a spent budget on a throttling answer.
func setRateLimitHeaders(h http.Header, rl *rateLimit, a *faultAnswer) {
	if a != nil && a.throttled {
		limit := 1200
		if rl != nil {
			limit = rl.limit
		}
		rl = &rateLimit{limit: limit, remaining: 0, reset: a.retryAfter}
	}
	if rl == nil {
		return
	}
	h.Set("RateLimit-Limit", strconv.Itoa(rl.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(rl.remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(rl.reset))
}

// writeFaultAnswer writes a synthetic error: Graph's error shape for Graph
// routes, OAuth's for Entra ID.
func writeFaultAnswer(w http.ResponseWriter, r *http.Request, class RouteClass, a *faultAnswer) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	reqID := newRequestID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	var body any
	if class == RouteToken {
		body = map[string]any{
			"error":             "temporarily_unavailable",
			"error_description": "AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: " + reqID + "\r\nCorrelation ID: " + clientReqID,
			"error_codes":       []int{90033},
			"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
			"trace_id":          reqID,
			"correlation_id":    clientReqID,
		}
	} else {
		body = map[string]any{"error": map[string]any{
			"code":    a.code,
			"message": a.message,
			"innerError": map[string]any{
				"code":              a.inner,
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        reqID,
				"client-request-id": clientReqID,
			},
		}}
		if a.inner == "" {
			delete(body.(map[string]any)["error"].(map[string]any)["innerError"].(map[string]any), "code")
		}
	}
	out, _ := json.Marshal(body)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(a.status)
	_, _ = w.Write(out)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// abortConn closes the client's connection without an answer: the
// connection itself on HTTP/1.1, the stream on HTTP/2.
func abortConn(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// recorder records a response's status, can cut its body after a number
// of bytes, and can keep a copy of its start. Every byte goes through its
// Write.
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
	limit   int64         // cut after this many body bytes; < 0 never
	capture *bytes.Buffer // nil: no copy
	dropped bool          // the connection is to be aborted
	bufs    *sync.Pool    // of *[]byte of copyBufSize, for ReadFrom
	pace    *pacer        // nil: full speed
}

func (w *recorder) WriteHeader(code int) {
	if w.dropped {
		return
	}
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.dropped {
		return 0, errDropped
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.capture != nil && w.capture.Len() < maxCapture {
		w.capture.Write(p)
	}
	if w.pace != nil {
		return w.pacedWrite(p)
	}
	return w.write(p)
}

// pacedWrite writes p in slices no faster than the pacer allows.
func (w *recorder) pacedWrite(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := min(len(p), w.pace.chunk())
		if err := w.pace.wait(chunk); err != nil {
			return n, err
		}
		m, err := w.write(p[:chunk])
		n += m
		if err != nil {
			return n, err
		}
		_ = http.NewResponseController(w.ResponseWriter).Flush()
		p = p[chunk:]
	}
	return n, nil
}

// write writes p, cutting the body at the drop limit.
func (w *recorder) write(p []byte) (int, error) {
	if w.limit >= 0 && w.written+int64(len(p)) > w.limit {
		n, _ := w.ResponseWriter.Write(p[:w.limit-w.written])
		w.written += int64(n)
		_ = http.NewResponseController(w.ResponseWriter).Flush()
		w.dropped = true
		return n, errDropped
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// copyBufSize is the buffer ReadFrom copies through: large enough that a
// download reads its blob in few system calls.
const copyBufSize = 256 << 10

// ReadFrom copies src through Write with a large pooled buffer, so that
// http.ServeContent and io.Copy read files in big chunks while cutting and
// capturing still see every byte.
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	bp := w.bufs.Get().(*[]byte)
	defer w.bufs.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// writerOnly hides everything but Write, so io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

// Flush sends buffered data to the client.
func (w *recorder) Flush() {
	if !w.dropped {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// dropReader cuts a request body after left bytes and marks the response
// so that the connection is aborted instead of answered.
type dropReader struct {
	io.ReadCloser
	left int64
	rec  *recorder
}

func (d *dropReader) Read(p []byte) (int, error) {
	if d.left <= 0 {
		d.rec.dropped = true
		return 0, errDropped
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.ReadCloser.Read(p)
	d.left -= int64(n)
	return n, err
}

// pacer spaces bytes out to a rate, in real time.
type pacer struct {
	ctx   context.Context
	rate  int64 // bytes a second, > 0
	start time.Time
	sent  int64
}

func newPacer(ctx context.Context, rate int64) *pacer {
	return &pacer{ctx: ctx, rate: rate, start: time.Now()}
}

// chunk is how many bytes to move at once: about 50 ms worth.
func (p *pacer) chunk() int { return int(max(512, min(64<<10, p.rate/20))) }

// wait accounts n bytes and sleeps until the rate allows them.
func (p *pacer) wait(n int) error {
	p.sent += int64(n)
	due := p.start.Add(time.Duration(float64(p.sent) / float64(p.rate) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// pacedReader reads a request body no faster than its pacer allows.
type pacedReader struct {
	io.ReadCloser
	pace *pacer
}

func (r *pacedReader) Read(p []byte) (int, error) {
	if len(p) > r.pace.chunk() {
		p = p[:r.pace.chunk()]
	}
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		if werr := r.pace.wait(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// hints maps pre-authenticated URLs (path and query) to the user they were
// handed to. It keeps the newest max entries.
type hints struct {
	mu   sync.Mutex // guards the fields below
	m    map[string]userKey
	ring []string // insertion order, for eviction
	next int
}

const maxHints = 1 << 17

func newHints(max int) *hints { return &hints{m: map[string]userKey{}, ring: make([]string, max)} }

func (h *hints) add(rawURL string, u userKey) {
	pu, err := url.Parse(rawURL)
	if err != nil {
		return
	}
	p := pu.Path
	if !strings.HasPrefix(p, downloadPrefix) && !strings.HasPrefix(p, uploadPrefix) && !strings.HasPrefix(p, monitorPrefix) {
		return
	}
	key := pu.RequestURI()
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[key]; ok {
		h.m[key] = u
		return
	}
	if old := h.ring[h.next]; old != "" {
		delete(h.m, old)
	}
	h.ring[h.next] = key
	h.next = (h.next + 1) % len(h.ring)
	h.m[key] = u
}

func (h *hints) get(requestURI string) userKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[requestURI]
}

// jsonStringsAfter returns the string values that follow each of the given
// quoted keys in a JSON document, wherever they occur.
func jsonStringsAfter(doc []byte, keys ...string) []string {
	var out []string
	for _, key := range keys {
		rest := doc
		for {
			i := bytes.Index(rest, []byte(key))
			if i < 0 {
				break
			}
			rest = rest[i+len(key):]
			j := 0
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
				j++
			}
			if j >= len(rest) || rest[j] != ':' {
				continue
			}
			j++
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
				j++
			}
			if j >= len(rest) || rest[j] != '"' {
				continue
			}
			start := j
			for j++; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' {
					j++
				}
			}
			if j >= len(rest) {
				break
			}
			var s string
			if json.Unmarshal(rest[start:j+1], &s) == nil {
				out = append(out, s)
			}
			rest = rest[j+1:]
		}
	}
	return out
}
