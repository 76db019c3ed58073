// Package agent is Mapdrive's long-running per-user process: it owns the
// sign-in, the licence lease and mappings from the service, the drives
// (assigned by an admin or discovered through Graph), their mounts, caches
// and upload queues, and it serves the local API the CLI and tray use.
//
// The agent reaches its parts through the small interfaces in this file,
// implemented by the auth, graph, svcclient, vfs and fusefs packages (see
// wire.go), so it can be tested on its own.
//
// Lock order: Agent.mu only. No method calls into Auth, Directory,
// Mounter, Mount or Service while holding it.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mapdrive/mapdrive/client/internal/bwlimit"
	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/localapi"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/version"
)

// Account is the signed-in user as the agent sees it.
type Account = apitype.Account

// DeviceCode is what the user must do to finish a device-code sign-in.
type DeviceCode struct {
	Message, UserCode, VerificationURL string
	ExpiresAt                          time.Time
}

// Auth signs the user in and out and hands out tokens. Errors wrap the
// sentinels in errors.go (ErrNotSignedIn, ErrSignInExpired, …).
type Auth interface {
	// LoginInteractive signs in through the system browser; showURL is
	// called with the sign-in page's URL before the browser opens.
	LoginInteractive(ctx context.Context, showURL func(string)) (Account, error)
	// LoginDeviceCode signs in with a device code; show is called once
	// with the code, then the call waits for the user.
	LoginDeviceCode(ctx context.Context, show func(DeviceCode)) (Account, error)
	// Account returns the signed-in account, or failure.SignedOut.
	Account(ctx context.Context) (Account, error)
	// Logout removes the account and its tokens.
	Logout(ctx context.Context) error
}

// RemoteDrive is a drive as Graph describes it.
type RemoteDrive struct {
	ID       string
	Name     string // "OneDrive", "Finance - Documents", "Marketing"
	Kind     string // "onedrive", "sharepoint", "team"
	SiteURL  string
	Library  string
	ReadOnly bool
	// LibraryPath is the decoded server-relative path of the drive's root
	// (graph.Drive.LibraryPath); "" when unknown.
	LibraryPath string
	// RootPath and RootID name the folder a mapping targeted at a folder
	// shows (apitype.Target.FolderPath, "/Reports", and its item id);
	// both empty for the whole drive.
	RootPath string `json:",omitempty"`
	RootID   string `json:",omitempty"`
	// Members are the reachable libraries of a combined drive (Kind
	// KindCombined), in the mapping's order; ID is then combinedID.
	Members []RemoteMember `json:",omitempty"`
}

// CacheName is the name of the drive's cache directory: the drive id, and
// for a folder root the folder's item id too, so that a folder mapping and
// a mount of its whole library never share a cache. The item id, not the
// path, so that a rename of the folder keeps its cache.
func (rd RemoteDrive) CacheName() string {
	if rd.RootID == "" {
		return rd.ID
	}
	return rd.ID + "." + rd.RootID
}

// Directory finds the drives a user can reach.
type Directory interface {
	// Discover lists the user's OneDrive, Teams files and site libraries.
	// It may return drives and an error together (some sources failed).
	Discover(ctx context.Context) ([]RemoteDrive, error)
	// Resolve finds the drive an admin's mapping points at.
	Resolve(ctx context.Context, t apitype.Target) (RemoteDrive, error)
}

// MountSpec says what to mount where.
type MountSpec struct {
	Key        string // the agent's drive id (mapping id or Graph drive id)
	Drive      RemoteDrive
	Label      string // the drive's name as the user sees it (the mapping's); the volume label
	Mountpoint string // directory, or "X:" on Windows
	ReadOnly   bool
	Account    string // accountID of the signed-in account
	CacheDir   string // this drive's metadata and content cache, under the account's folder
	CacheMax   int64  // bytes; 0: the default
	CacheKey   []byte // 32-byte content encryption key from the OS keyring
	Poll       time.Duration
	Pins       []string // paths kept offline
	PinAll     bool     // the mapping keeps the whole drive offline
	// Exclusive checks files out while they are written (the mapping's
	// exclusive editing option; docs/checkout.md).
	Exclusive bool
}

// MountStats is what a mount reports to the agent's status.
type MountStats struct {
	Online     bool
	CacheBytes int64
	Pending    int // uploads queued
	Transfers  []apitype.Transfer
	Conflicts  []apitype.Conflict
	Errors     []apitype.Problem
}

// Mount is one mounted drive.
type Mount interface {
	// Unmount flushes what it can, then unmounts. Queued uploads stay in
	// the cache's journal for next time.
	Unmount(ctx context.Context) error
	Stats() MountStats
	Pin(ctx context.Context, path string, pinned bool) error
	// SetUploadsPaused holds or releases the upload queue. It returns
	// ErrUnsupported when the filesystem cannot pause.
	SetUploadsPaused(paused bool) error
	// WakeUploads makes every pending upload due now, ending its backoff
	// (after a new sign-in).
	WakeUploads()
}

// Mounter mounts drives.
type Mounter interface {
	Mount(ctx context.Context, spec MountSpec) (Mount, error)
}

// Service validates the licence and returns the user's mappings
// (svcclient.Client implements it).
type Service interface {
	Fetch(ctx context.Context) (svcclient.Result, error)
	// Forget deletes the stored lease and mappings (at sign-out).
	Forget() error
}

// Secrets is the OS keyring (keyring.Store implements it).
type Secrets interface {
	Get(name string) ([]byte, error)
	Set(name string, data []byte) error
	Delete(name string) error
}

// Options configure an Agent. Auth, Directory and Mounter may be nil when
// the client is not configured yet (no client id); the agent then runs and
// tells the user what to configure.
type Options struct {
	Config    config.Config
	Auth      Auth
	Directory Directory
	Mounter   Mounter
	Service   Service // nil: no service configured, no licence check
	Secrets   Secrets // nil: cache encryption keys are not available
	Listener  net.Listener
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RefreshInterval is how often the licence, mappings and drive list
	// are refreshed; 0 means Config.RefreshInterval, or 5 minutes.
	RefreshInterval time.Duration
	// StatsInterval is how often mounts' transfers are sampled; 0 means 1 s.
	StatsInterval time.Duration
	// CheckMountpoint validates a mountpoint before mounting; nil means
	// the platform check (empty directory, not a mountpoint; free letter).
	CheckMountpoint func(string) error
	// OpenBrowser opens the sign-in page; nil leaves it to Auth.
	OpenBrowser func(string) error
	// Bandwidth is the limiter the Graph client's transfers go through;
	// the agent sets it from the tenant's policies. nil: no limits.
	Bandwidth *bwlimit.Limiter
	// Jitter returns the start delay for a jitter policy; nil means a
	// uniformly random delay in [0, max).
	Jitter func(max time.Duration) time.Duration
	// Links finds web URLs and creates sharing links; nil: not available.
	Links Links
}

// Agent is the per-user agent. Create it with New and call Run once.
type Agent struct {
	// Constant after construction.
	o    Options
	log  *slog.Logger
	kick chan struct{} // 1-buffered: refresh now
	// refreshPinned reports whether the refresh interval was set by the
	// caller or the configuration, so the tenant's policy does not apply.
	refreshPinned bool

	// ctx is Run's context, for work that outlives a request (sign-in,
	// mounts). Set once before serving.
	ctx context.Context
	wg  sync.WaitGroup // background work started by requests

	// rememberMu serializes updates of the remembered mounts file.
	rememberMu sync.Mutex

	// drainMu serializes opening and closing drains (drain.go), so a
	// mount never races a drain for the drive's cache.
	drainMu sync.Mutex

	mu sync.Mutex // guards everything below
	st state
	// staleCleaned reports whether the start-up stale-mount cleaning ran.
	staleCleaned bool
}

// New returns an agent.
func New(o Options) (*Agent, error) {
	if o.Listener == nil {
		return nil, errors.New("agent: no listener for the local API")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// An interval set by the caller or in the configuration wins over
	// the tenant's policy; only the built-in default gives way to it.
	pinned := o.RefreshInterval > 0 || (o.Config.Sources["refresh_interval"] != config.FromDefault && o.Config.RefreshInterval > 0)
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = o.Config.RefreshInterval
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = config.DefaultRefreshInterval
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = time.Second
	}
	if o.CheckMountpoint == nil {
		o.CheckMountpoint = checkMountpoint
	}
	if o.Jitter == nil {
		o.Jitter = randomJitter
	}
	a := &Agent{o: o, log: o.Log, kick: make(chan struct{}, 1), ctx: context.Background(), refreshPinned: pinned}
	a.st = newState(o)
	a.loadSettings()
	if n, ok := o.Auth.(interface{ NotifySignInLost(func()) }); ok {
		// A sign-in lost to a claims challenge shows at once: the refresh
		// meets it and sets the status.
		n.NotifySignInLost(a.Refresh)
	}
	return a, nil
}

// Run serves the local API and keeps drives mounted until ctx ends, then
// unmounts everything and returns.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.ctx = ctx
	srv := &http.Server{
		Handler:           localapi.New(a, a.log.With("component", "localapi")),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := srv.Serve(a.o.Listener)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve the local API: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		return nil
	})
	g.Go(func() error { a.refreshLoop(gctx); return nil })
	g.Go(func() error { a.statsLoop(gctx); return nil })
	a.log.Info("agent started", "version", version.Version, "refresh_interval", a.o.RefreshInterval)
	err := g.Wait()
	cancel()
	a.wg.Wait()
	uctx, ucancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ucancel()
	a.unmountAll(uctx)
	a.stopAllDrains(uctx)
	a.log.Info("agent stopped")
	return err
}

// Refresh asks the agent to refresh the licence, mappings and drives now.
func (a *Agent) Refresh() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// RefreshNow implements localapi.Refresher: it asks for a refresh, waits
// until one that started after the call has finished, and returns the
// status then.
func (a *Agent) RefreshNow(ctx context.Context) (apitype.Status, error) {
	a.mu.Lock()
	target := a.st.refreshStarted + 1
	a.mu.Unlock()
	a.Refresh()
	for {
		a.mu.Lock()
		done, wake := a.st.refreshDone, a.st.refreshWake
		a.mu.Unlock()
		if done >= target {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return apitype.Status{}, fmt.Errorf("wait for the refresh: %w", ctx.Err())
		case <-a.ctx.Done():
			return apitype.Status{}, apitype.NewError(apitype.CodeInternal, "the agent is stopping", "Start it again with `mapdrive agent`.")
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st.signIn == apitype.SignedOut && a.st.login == nil {
		if a.o.Auth == nil {
			return apitype.Status{}, a.notConfigured()
		}
		return apitype.Status{}, apitype.NewError(apitype.CodeNotSignedIn, "you are not signed in, so there is nothing to refresh",
			"Sign in with `mapdrive login` (or `mapdrive login --device-code` on a machine without a browser).")
	}
	return a.statusLocked(), nil
}

func (a *Agent) refreshLoop(ctx context.Context) {
	if !a.startDelay(ctx) {
		return
	}
	every := a.o.RefreshInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.mu.Lock()
		a.st.refreshStarted++
		a.mu.Unlock()
		a.refresh(ctx)
		a.mu.Lock()
		a.st.refreshDone++
		close(a.st.refreshWake)
		a.st.refreshWake = make(chan struct{})
		next := refreshInterval(a.o.RefreshInterval, a.refreshPinned, a.st.policies)
		a.mu.Unlock()
		if next != every {
			a.log.Info("refresh interval set by policy", "refresh_interval", next)
			every = next
			t.Reset(every)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
			// A refresh on demand restarts the interval.
			t.Reset(every)
		}
	}
}

func (a *Agent) statsLoop(ctx context.Context) {
	t := time.NewTicker(a.o.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.sampleStats()
			a.retireRemoved(ctx)
			a.retireDrains(ctx)
		}
	}
}

var _ Service = (*svcclient.Client)(nil)
