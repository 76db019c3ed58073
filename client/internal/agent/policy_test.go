package agent

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/bwlimit"
	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

func TestRefreshInterval(t *testing.T) {
	const five = 5 * time.Minute
	for _, tt := range []struct {
		name   string
		pinned bool
		secs   int
		want   time.Duration
	}{
		{"no policy", false, 0, five},
		{"policy", false, 900, 15 * time.Minute},
		{"policy, interval pinned by the user", true, 900, five},
		{"negative policy ignored", false, -1, five},
	} {
		if got := refreshInterval(five, tt.pinned, apitype.Policies{RefreshSeconds: tt.secs}); got != tt.want {
			t.Errorf("%s: refreshInterval(5m, %v, %d s) = %v, want %v", tt.name, tt.pinned, tt.secs, got, tt.want)
		}
	}
}

// TestRandomJitterSpreads: delays stay in [0, max), and 5,000 machines
// with a 60 s jitter do not start in the same second: no second of the
// 60 gets more than a few times its share.
func TestRandomJitterSpreads(t *testing.T) {
	for _, m := range []time.Duration{0, -time.Second} {
		if d := randomJitter(m); d != 0 {
			t.Errorf("randomJitter(%v) = %v, want 0", m, d)
		}
	}
	var perSecond [60]int
	for range 5000 {
		d := randomJitter(time.Minute)
		if d < 0 || d >= time.Minute {
			t.Fatalf("randomJitter(1m) = %v, outside [0, 1m)", d)
		}
		perSecond[d/time.Second]++
	}
	for s, n := range perSecond {
		if n > 3*5000/60 {
			t.Errorf("second %d got %d of 5,000 starts, want about %d", s, n, 5000/60)
		}
	}
}

// cachedService is a Service with stored policies.
type cachedService struct {
	pol apitype.Policies
	err error
}

func (s cachedService) Fetch(context.Context) (svcclient.Result, error) {
	return svcclient.Result{}, errors.New("not used")
}
func (s cachedService) Forget() error { return nil }
func (s cachedService) Cached() (svcclient.Result, error) {
	return svcclient.Result{Policies: s.pol, Cached: true}, s.err
}

// TestStartDelay runs the start delay against the stored policies: no
// stored lease and no machine setting, or no jitter, starts at once; a
// jitter waits the drawn delay; without a stored lease the machine's
// start_jitter bounds it, and a stored policy wins over it; a user's
// command (a kick) ends a long wait; and the stored bandwidth limits apply
// before the first call.
func TestStartDelay(t *testing.T) {
	for _, tt := range []struct {
		name     string
		svc      cachedService
		machine  time.Duration // the start_jitter setting
		draw     time.Duration
		kick     bool
		wantMax  time.Duration // the jitter policy passed to the draw
		atLeast  time.Duration
		atMost   time.Duration
		wantDraw bool
	}{
		{name: "no stored lease", svc: cachedService{pol: apitype.Policies{StartJitterSeconds: 90}, err: svcclient.ErrNoLease}, draw: time.Hour, atMost: time.Second},
		{name: "no jitter policy", svc: cachedService{}, draw: time.Hour, atMost: time.Second},
		{name: "first start: the machine setting bounds it", svc: cachedService{err: svcclient.ErrNoLease}, machine: 2 * time.Minute,
			draw: 300 * time.Millisecond, wantDraw: true, wantMax: 2 * time.Minute, atLeast: 300 * time.Millisecond, atMost: 5 * time.Second},
		{name: "the tenant's policy wins over the machine setting", svc: cachedService{pol: apitype.Policies{StartJitterSeconds: 90}}, machine: 2 * time.Minute,
			draw: 300 * time.Millisecond, wantDraw: true, wantMax: 90 * time.Second, atLeast: 300 * time.Millisecond, atMost: 5 * time.Second},
		{name: "jitter waits the drawn delay", svc: cachedService{pol: apitype.Policies{StartJitterSeconds: 90}}, draw: 300 * time.Millisecond,
			wantDraw: true, wantMax: 90 * time.Second, atLeast: 300 * time.Millisecond, atMost: 5 * time.Second},
		{name: "a user command ends the wait", svc: cachedService{pol: apitype.Policies{StartJitterSeconds: 3600}}, draw: time.Hour, kick: true,
			wantDraw: true, wantMax: time.Hour, atMost: 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var gotMax time.Duration
			drew := false
			tt.svc.pol.UploadBytesPerSecond = 7_000_000
			bw := bwlimit.New()
			a, err := New(Options{Listener: ln, Service: tt.svc, Bandwidth: bw, Config: config.Config{StartJitter: tt.machine},
				Jitter: func(m time.Duration) time.Duration { drew, gotMax = true, m; return tt.draw }})
			if err != nil {
				t.Fatal(err)
			}
			if tt.kick {
				time.AfterFunc(100*time.Millisecond, a.Refresh)
			}
			start := time.Now()
			if !a.startDelay(context.Background()) {
				t.Fatal("startDelay = false without a cancel")
			}
			took := time.Since(start)
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("startDelay took %v, want %v..%v", took, tt.atLeast, tt.atMost)
			}
			if drew != tt.wantDraw || gotMax != tt.wantMax {
				t.Errorf("draw called %v with max %v, want %v with %v", drew, gotMax, tt.wantDraw, tt.wantMax)
			}
			if tt.svc.err == nil && bw.State(bwlimit.Upload).BytesPerSecond != 7_000_000 {
				t.Errorf("stored upload limit not applied before the first call: %+v", bw.State(bwlimit.Upload))
			}
		})
	}
	// A stop during the wait ends it.
	ln, _ := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	defer ln.Close()
	a, _ := New(Options{Listener: ln, Service: cachedService{pol: apitype.Policies{StartJitterSeconds: 60}},
		Jitter: func(time.Duration) time.Duration { return time.Hour }})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if a.startDelay(ctx) {
		t.Error("startDelay = true after its context ended")
	}
}
