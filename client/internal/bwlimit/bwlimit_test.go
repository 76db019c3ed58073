package bwlimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestBurst(t *testing.T) {
	for _, tc := range []struct {
		bps  int64
		want int
	}{
		{1, 1},
		{1_000_000, 1_000_000},
		{20_000_000, MaxBurst},
		{1 << 40, MaxBurst},
	} {
		if got := Burst(tc.bps); got != tc.want {
			t.Errorf("Burst(%d) = %d, want %d", tc.bps, got, tc.want)
		}
	}
}

// TestWaitHoldsTheRate moves 3 MB at 1 MB/s: the first second's worth is
// the burst, the other 2 MB take at least 2 s. Only the lower bound is
// asserted (a loaded machine is slower, never faster).
func TestWaitHoldsTheRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		read bool
	}{{"Wait", false}, {"Reader", true}} {
		t.Run(tc.name, func(t *testing.T) {
			l := New()
			l.SetLimits(1_000_000, 1_000_000)
			start := time.Now()
			if tc.read {
				src := bytes.Repeat([]byte("x"), 3_000_000)
				var dst bytes.Buffer
				if _, err := io.Copy(&dst, l.Reader(context.Background(), Download, bytes.NewReader(src))); err != nil || !bytes.Equal(dst.Bytes(), src) {
					t.Fatalf("copy through the limited reader: %v, %d bytes", err, dst.Len())
				}
			} else {
				for range 30 {
					if err := l.Wait(context.Background(), Upload, 100_000); err != nil {
						t.Fatal(err)
					}
				}
			}
			took := time.Since(start)
			t.Logf("3 MB at 1 MB/s took %v", took)
			if took < 1900*time.Millisecond {
				t.Errorf("3 MB at 1 MB/s took %v, want at least 2 s", took)
			}
			dir := Upload
			if tc.read {
				dir = Download
			}
			if st := l.State(dir); !st.Limiting || st.BytesPerSecond != 1_000_000 {
				t.Errorf("State after a limited transfer = %+v, want limiting at 1 MB/s", st)
			}
		})
	}
}

// TestDirectionsAndNoLimit checks that the directions are independent,
// that 0 lifts a limit, and that a nil Limiter limits nothing.
func TestDirectionsAndNoLimit(t *testing.T) {
	l := New()
	l.SetLimits(1_000, 0) // uploads crawl, downloads are free
	start := time.Now()
	if err := l.Wait(context.Background(), Download, 100<<20); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("an unlimited 100 MiB download waited %v", d)
	}
	if st := l.State(Download); st != (State{}) {
		t.Errorf("State(Download) = %+v, want no limit", st)
	}
	l.SetLimits(0, 0)
	if err := l.Wait(context.Background(), Upload, 100<<20); err != nil {
		t.Fatal(err)
	}
	if st := l.State(Upload); st.Limiting || st.BytesPerSecond != 0 {
		t.Errorf("State(Upload) after lifting the limit = %+v", st)
	}
	var nl *Limiter
	nl.SetLimits(1, 1)
	if err := nl.Wait(context.Background(), Upload, 1<<30); err != nil || nl.State(Upload) != (State{}) {
		t.Errorf("nil Limiter: Wait = %v, State = %+v", err, nl.State(Upload))
	}
}

// TestWaitEndsWithContext: a transfer held back by the limit stops when
// its context ends.
func TestWaitEndsWithContext(t *testing.T) {
	l := New()
	l.SetLimits(1_000, 1_000)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx, Upload, 10_000) // 9 s at 1 kB/s
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Wait = %v after %v, want the deadline soon", err, time.Since(start))
	}
}
