package graph

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the pacer's view of time, injected so tests can run it without
// waiting.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PacerOptions tunes a Pacer. Zero values take the defaults.
type PacerOptions struct {
	// MaxConcurrent caps requests in flight (a download holds its slot
	// until its body is closed). Default 16.
	MaxConcurrent int
	// MaxThrottleRetries is how often one request is re-sent after 429 or
	// 503 + Retry-After. Default 8.
	MaxThrottleRetries int
	// MaxErrorRetries is how often an idempotent request is re-sent after
	// a 5xx or a dropped connection. Default 4.
	MaxErrorRetries int
	// BaseBackoff and MaxBackoff bound the exponential backoff.
	// Defaults 500 ms and 30 s.
	BaseBackoff, MaxBackoff time.Duration
	// Clock defaults to real time.
	Clock Clock
	// Jitter returns a number in [0,1); default math/rand.
	Jitter func() float64
}

// Pacer spaces the requests of one user: Microsoft 365 throttles per user
// and application, so all drives of a user share one Pacer. When the server
// says Retry-After, no request at all leaves before that time has passed.
type Pacer struct {
	// Immutable after construction.
	opts PacerOptions
	sem  chan struct{}

	mu         sync.Mutex
	notBefore  time.Time     // guarded by mu; no request is sent before it
	recovering bool          // guarded by mu; throttled since the last unthrottled answer
	probing    bool          // guarded by mu; the one request testing the water is out
	changed    chan struct{} // guarded by mu; closed (and replaced) when the above change
}

// NewPacer returns a Pacer with opts.
func NewPacer(opts PacerOptions) *Pacer {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 16
	}
	if opts.MaxThrottleRetries <= 0 {
		opts.MaxThrottleRetries = 8
	}
	if opts.MaxErrorRetries <= 0 {
		opts.MaxErrorRetries = 4
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Pacer{opts: opts, sem: make(chan struct{}, opts.MaxConcurrent), changed: make(chan struct{})}
}

// acquire waits for a free slot and for any throttling pause to end. After
// a pause only one request, the probe, goes out; the others follow once it
// came back unthrottled, so that a burst of waiting requests does not hit
// a server that throttles again. The caller must call release exactly once,
// and settle once per attempt as soon as the answer (or error) is known.
func (p *Pacer) acquire(ctx context.Context) (release func(), probe bool, err error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	var once sync.Once
	release = func() { once.Do(func() { <-p.sem }) }
	for {
		p.mu.Lock()
		wait := p.notBefore.Sub(p.opts.Clock.Now())
		switch {
		case wait > 0:
			p.mu.Unlock()
			if err := p.opts.Clock.Sleep(ctx, wait); err != nil {
				release()
				return nil, false, err
			}
		case p.recovering && !p.probing:
			p.probing = true
			p.mu.Unlock()
			return release, true, nil
		case p.recovering:
			ch := p.changed
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				release()
				return nil, false, ctx.Err()
			}
		default:
			p.mu.Unlock()
			return release, false, nil
		}
	}
}

// settle records the outcome of an attempt: a probe that was not throttled
// ends the recovery and lets the waiting requests go.
func (p *Pacer) settle(probe, throttled bool) {
	if !probe {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probing = false
	if !throttled {
		p.recovering = false
	}
	p.broadcastLocked()
}

func (p *Pacer) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// throttle pauses every request until retryAfter (plus up to 10%, at most
// 2 s, of jitter so that parallel clients do not come back in lockstep) has
// passed. It never shortens a pause already in force.
func (p *Pacer) throttle(retryAfter time.Duration) {
	jitter := time.Duration(p.opts.Jitter() * float64(min(retryAfter/10, 2*time.Second)))
	until := p.opts.Clock.Now().Add(retryAfter + jitter)
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.notBefore) {
		p.notBefore = until
	}
	p.recovering = true
	p.broadcastLocked()
}

// backoff is the wait before retry number attempt (0-based) after an error:
// exponential from BaseBackoff, capped at MaxBackoff, with the upper half
// jittered.
func (p *Pacer) backoff(attempt int) time.Duration {
	d := p.opts.BaseBackoff << min(attempt, 20)
	if d > p.opts.MaxBackoff || d <= 0 {
		d = p.opts.MaxBackoff
	}
	return d/2 + time.Duration(p.opts.Jitter()*float64(d/2))
}

// PausedUntil reports the end of the current throttling pause (zero or in
// the past when there is none); the agent shows it in its status.
func (p *Pacer) PausedUntil() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notBefore
}
