package agent

// This file applies the tenant's refresh, start-jitter and bandwidth
// policies (apitype.Policies) to the agent.

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/bwlimit"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// refreshInterval is how long to wait between refreshes: the tenant's
// RefreshSeconds, unless the interval was pinned by the caller or the
// client configuration, or the policy has none.
func refreshInterval(configured time.Duration, pinned bool, p apitype.Policies) time.Duration {
	if pinned || p.RefreshSeconds <= 0 {
		return configured
	}
	return time.Duration(p.RefreshSeconds) * time.Second
}

// jitterMax is the start-jitter policy as a duration; 0: no delay.
func jitterMax(p apitype.Policies) time.Duration {
	return time.Duration(max(p.StartJitterSeconds, 0)) * time.Second
}

// randomJitter is a uniformly random delay in [0, max).
func randomJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// cachedPolicies is what startDelay needs of the service client: the
// policies stored with the last lease, read without the network.
type cachedPolicies interface {
	Cached() (svcclient.Result, error)
}

var _ cachedPolicies = (*svcclient.Client)(nil)

// startDelay waits, before the agent's first call to the service or
// Graph, a random delay below the tenant's start-jitter policy (from the
// stored lease), so that machines booting together spread their calls.
// Until a lease has stored that policy (a new machine's first boot, or no
// service), the machine's start_jitter setting bounds the delay: only
// machine policy, set through Intune or /etc/mapdrive/config.toml, can
// spread a fleet's first start. A command of the user (a kick: refresh,
// sign-in) ends the wait at once: it must not look hung. It reports false
// when ctx ended.
func (a *Agent) startDelay(ctx context.Context) bool {
	limit, from := a.o.Config.StartJitter, "the machine's start_jitter setting"
	if cp, ok := a.o.Service.(cachedPolicies); ok && a.o.Service != nil {
		if res, err := cp.Cached(); err == nil {
			a.applyBandwidth(res.Policies)
			limit, from = jitterMax(res.Policies), "the tenant's start-jitter policy"
		}
	}
	if limit <= 0 {
		return true
	}
	d := a.o.Jitter(limit)
	if d <= 0 {
		return true
	}
	a.log.Info("start delayed", "by", from, "delay", d.Round(time.Millisecond))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-a.kick:
		a.log.Info("start delay ended by a user command")
	case <-ctx.Done():
		return false
	}
	return true
}

// applyBandwidth sets the transfer limits from the tenant's policies.
func (a *Agent) applyBandwidth(p apitype.Policies) {
	a.o.Bandwidth.SetLimits(p.UploadBytesPerSecond, p.DownloadBytesPerSecond)
}

// bandwidthStatus is the limits and whether they hold transfers back now.
func (a *Agent) bandwidthStatus() apitype.Bandwidth {
	up, down := a.o.Bandwidth.State(bwlimit.Upload), a.o.Bandwidth.State(bwlimit.Download)
	return apitype.Bandwidth{UploadLimit: up.BytesPerSecond, DownloadLimit: down.BytesPerSecond,
		UploadLimited: up.Limiting, DownloadLimited: down.Limiting}
}
