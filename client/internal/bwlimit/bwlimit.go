// Package bwlimit caps the agent's transfer rate in each direction, with
// one token bucket per direction shared by all of a user's drives, as the
// tenant's bandwidth policy asks. It also remembers when a transfer last
// had to wait, so that the status can say a transfer is being limited.
package bwlimit

import (
	"context"
	"io"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxBurst is the most a direction may send at once after being idle:
// 4 MiB, the policy's promise.
const MaxBurst = 4 << 20

// limitedFor is how long after a wait a direction still counts as
// limited: the status is sampled every second, and a wait between two
// samples must show.
const limitedFor = 2 * time.Second

// Direction is upload or download.
type Direction int

// Directions.
const (
	Upload Direction = iota
	Download
)

// Limiter holds the two buckets. The zero value is not usable; use New.
// A nil *Limiter limits nothing, so callers need not check.
type Limiter struct {
	now func() time.Time // constant after construction
	dir [2]bucket
}

type bucket struct {
	lim *rate.Limiter // safe for concurrent use; its limit changes with SetLimits

	mu         sync.Mutex // guards the fields below
	bps        int64      // 0: unlimited
	lastWaited time.Time
}

// New returns a Limiter that limits nothing until SetLimits.
func New() *Limiter {
	l := &Limiter{now: time.Now}
	for i := range l.dir {
		l.dir[i].lim = rate.NewLimiter(rate.Inf, MaxBurst)
	}
	return l
}

// Burst is the bucket size for a limit of bps bytes per second: one
// second's worth, and never more than MaxBurst.
func Burst(bps int64) int {
	return int(min(bps, MaxBurst))
}

// SetLimits sets the limits in bytes per second; 0 or less is no limit.
// Transfers in progress pick the new limits up at their next chunk.
func (l *Limiter) SetLimits(up, down int64) {
	if l == nil {
		return
	}
	for i, bps := range [2]int64{up, down} {
		b := &l.dir[i]
		b.mu.Lock()
		if bps != b.bps {
			b.bps = max(bps, 0)
			if b.bps == 0 {
				b.lim.SetLimit(rate.Inf)
				b.lim.SetBurst(MaxBurst)
			} else {
				b.lim.SetLimit(rate.Limit(b.bps))
				b.lim.SetBurst(Burst(b.bps))
			}
		}
		b.mu.Unlock()
	}
}

// Wait blocks until n bytes may move in direction d, or ctx ends. n may
// exceed the burst: it is taken in burst-sized pieces.
func (l *Limiter) Wait(ctx context.Context, d Direction, n int) error {
	if l == nil {
		return nil
	}
	b := &l.dir[d]
	for n > 0 {
		b.mu.Lock()
		limited := b.bps > 0
		chunk := n
		if limited {
			chunk = min(n, Burst(b.bps))
		}
		b.mu.Unlock()
		if !limited {
			return nil
		}
		r := b.lim.ReserveN(l.now(), chunk)
		if !r.OK() { // the burst shrank between the lock and here; retry with the new one
			continue
		}
		if delay := r.Delay(); delay > 0 {
			b.mu.Lock()
			b.lastWaited = l.now().Add(delay)
			b.mu.Unlock()
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return ctx.Err()
			}
		}
		n -= chunk
	}
	return nil
}

// Reader returns r read at most at direction d's rate. A nil Limiter
// returns r itself.
func (l *Limiter) Reader(ctx context.Context, d Direction, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &reader{ctx: ctx, l: l, d: d, r: r}
}

type reader struct {
	ctx context.Context
	l   *Limiter
	d   Direction
	r   io.Reader
}

// Read reads at most a burst, then waits for the bytes it got: the
// kernel's socket buffer and TCP flow control hold the sender back
// meanwhile.
func (r *reader) Read(p []byte) (int, error) {
	b := &r.l.dir[r.d]
	b.mu.Lock()
	if b.bps > 0 {
		p = p[:min(len(p), Burst(b.bps))]
	}
	b.mu.Unlock()
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.Wait(r.ctx, r.d, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// State is one direction's limit and whether it held a transfer back in
// the last two seconds.
type State struct {
	BytesPerSecond int64 // 0: no limit
	Limiting       bool
}

// State reports direction d's limit and whether it is limiting now.
func (l *Limiter) State(d Direction) State {
	if l == nil {
		return State{}
	}
	b := &l.dir[d]
	b.mu.Lock()
	defer b.mu.Unlock()
	return State{BytesPerSecond: b.bps, Limiting: b.bps > 0 && !b.lastWaited.IsZero() && l.now().Sub(b.lastWaited) < limitedFor}
}
