package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pkg/browser"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/bwlimit"
	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/fusefs"
	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/client/internal/graph/transport"
	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/union"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/logredact"
	"github.com/mapdrive/mapdrive/shared/version"
)

// Parts are the real components the agent runs on, built from the
// configuration by Build.
type Parts struct {
	Auth      *AuthAdapter
	Graph     *graph.Client
	Directory Directory
	Mounter   Mounter
	Service   *svcclient.Client // nil without service_url
	Secrets   *keyring.Store
	// Bandwidth is the Graph client's transfer limiter; the agent sets
	// it from the tenant's policies.
	Bandwidth *bwlimit.Limiter
	// Links finds web URLs and creates sharing links through Graph.
	Links Links
}

// NewLogger returns the agent's logger: text lines on w at cfg's level,
// through the redacting handler.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(logredact.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})))
}

// RunFromConfig builds the agent's parts from cfg, listens on the
// per-user socket and runs until ctx ends. It is `mapdrive agent`.
func RunFromConfig(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	log := NewLogger(stderr, cfg.LogLevel)
	sock := cfg.Socket
	if sock == "" {
		var err error
		if sock, err = ipc.DefaultPath(); err != nil {
			return err
		}
	}
	ln, err := ipc.Listen(sock, log.With("component", "ipc"))
	if err != nil {
		if errors.Is(err, ipc.ErrAgentRunning) {
			return apitype.NewError("agent_running", "a Mapdrive agent is already running for you on "+sock,
				"Use it (`mapdrive status`), or stop it before starting another.")
		}
		return fmt.Errorf("start the local API: %w", err)
	}
	o := Options{Config: cfg, Listener: ln, Log: log}
	if cfg.Configured() {
		p, err := Build(cfg, log, BuildOptions{})
		if err != nil {
			ln.Close()
			return err
		}
		o.Auth, o.Directory, o.Mounter, o.Secrets, o.Bandwidth, o.Links = p.Auth, p.Directory, p.Mounter, p.Secrets, p.Bandwidth, p.Links
		if p.Service != nil {
			o.Service = p.Service
		}
	} else {
		log.Warn("Mapdrive is not configured (no client_id); the agent runs but cannot sign in", "action", cfg.Check().Error())
	}
	a, err := New(o)
	if err != nil {
		ln.Close()
		return err
	}
	log.Info("local API listening", "socket", sock)
	return a.Run(ctx)
}

// BuildOptions replace parts of the real environment (tests).
type BuildOptions struct {
	// Secrets replaces the OS keyring.
	Secrets *keyring.Store
	// OpenBrowser replaces the system browser for the interactive sign-in.
	OpenBrowser func(string) error
}

// Build makes the real components from cfg. A setting it needs and lacks
// (config.Check) fails it with the message saying what to set: a service
// without its scope would otherwise refuse every token.
func Build(cfg config.Config, log *slog.Logger, bo BuildOptions) (*Parts, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	secrets := bo.Secrets
	if secrets == nil {
		secrets = keyring.New()
	}
	open := bo.OpenBrowser
	if open == nil {
		open = browser.OpenURL
	}
	aa := &AuthAdapter{log: log.With("component", "auth"), open: open}
	authority := cfg.Authority
	if cfg.TenantID != "" {
		if u, err := url.Parse(authority); err == nil {
			seg := strings.Split(strings.Trim(u.Path, "/"), "/")
			if last := seg[len(seg)-1]; last == "organizations" || last == "common" || last == "" {
				seg[len(seg)-1] = cfg.TenantID
				u.Path = "/" + strings.Join(seg, "/")
				authority = u.String()
			}
		}
	}
	var apiScopes []string
	if cfg.ServiceURL != "" && cfg.ServiceScope != "" {
		apiScopes = []string{cfg.ServiceScope}
	}
	ac, err := auth.New(auth.Config{
		Authority: authority, ClientID: cfg.ClientID, APIScopes: apiScopes, CAFile: cfg.CAFile,
		Keyring: secrets, OpenURL: aa.openURL, Logger: log.With("component", "auth"),
		SignInLost: aa.signInLost,
	})
	if err != nil {
		return nil, fmt.Errorf("set up sign-in: %w", err)
	}
	aa.c = ac
	bw := bwlimit.New()
	gc, err := graph.New(graph.Config{Base: cfg.GraphURL, Tokens: ac, CAFile: cfg.CAFile, Logger: log.With("component", "graph"), Bandwidth: bw})
	if err != nil {
		return nil, fmt.Errorf("set up Microsoft Graph access: %w", err)
	}
	aa.graph = gc
	p := &Parts{Auth: aa, Graph: gc, Secrets: secrets, Bandwidth: bw,
		Directory: &graphDirectory{gc: gc}, Links: graphLinks{gc: gc},
		Mounter: &fuseMounter{gc: gc, log: log}}
	if cfg.ServiceURL != "" {
		hc, err := transport.NewClient(cfg.CAFile, false)
		if err != nil {
			return nil, fmt.Errorf("set up the Mapdrive service client: %w", err)
		}
		p.Service, err = svcclient.New(svcclient.Options{
			BaseURL: cfg.ServiceURL, HTTP: hc, LeaseKey: cfg.LeaseKey, StateDir: cfg.StateDir,
			ClientVersion: version.Version, Log: log.With("component", "service"),
			// A stored lease must be the signed-in user's.
			Account: func(ctx context.Context) (string, string, error) {
				a, err := ac.Account(ctx)
				if err != nil && a.HomeAccountID == "" {
					return "", "", mapAuthErr(err)
				}
				// The home account id "<oid>.<tid>" names the user's own
				// tenant; MSAL's realm may be "organizations".
				if oid, tid, ok := strings.Cut(a.HomeAccountID, "."); ok && oid != "" && tid != "" {
					return tid, oid, nil
				}
				return a.TenantID, a.ObjectID, nil
			},
			Token: func(ctx context.Context) (string, error) {
				tok, err := ac.Token(ctx, apiScopes)
				if err != nil {
					err = mapAuthErr(err)
					if errors.Is(err, failure.Offline) {
						return "", fmt.Errorf("%w: %w", svcclient.ErrUnreachable, err)
					}
				}
				return tok, err
			},
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// AuthAdapter adapts *auth.Client to Auth.
type AuthAdapter struct {
	c     *auth.Client  // set once in Build
	graph *graph.Client // set once in Build; for the display name
	log   *slog.Logger
	open  func(string) error

	mu          sync.Mutex
	show        func(string) // guarded by mu: where the next sign-in URL goes
	displayName string       // guarded by mu: cached from Graph
	onLost      func()       // guarded by mu: the agent's refresh kick
}

// NotifySignInLost makes fn be called when a claims challenge needs a new
// sign-in (the agent refreshes, and its status says so).
func (x *AuthAdapter) NotifySignInLost(fn func()) {
	x.mu.Lock()
	x.onLost = fn
	x.mu.Unlock()
}

func (x *AuthAdapter) signInLost() {
	x.mu.Lock()
	fn := x.onLost
	x.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Client returns the underlying auth client (tests use it).
func (x *AuthAdapter) Client() *auth.Client { return x.c }

// openURL is MSAL's browser hook: the URL goes to the status, then to the
// browser. A browser that cannot open is not fatal: the user can open the
// URL the CLI or tray shows.
func (x *AuthAdapter) openURL(u string) error {
	x.mu.Lock()
	show := x.show
	x.mu.Unlock()
	if show != nil {
		show(u)
	}
	if x.open != nil {
		if err := x.open(u); err != nil {
			x.log.Warn("could not open the browser; the sign-in page must be opened by hand", "err", err)
		}
	}
	return nil
}

// LoginInteractive implements Auth.
func (x *AuthAdapter) LoginInteractive(ctx context.Context, showURL func(string)) (Account, error) {
	x.mu.Lock()
	x.show = showURL
	x.mu.Unlock()
	defer func() { x.mu.Lock(); x.show = nil; x.mu.Unlock() }()
	a, err := x.c.Login(ctx)
	return x.account(ctx, a, err)
}

// LoginDeviceCode implements Auth.
func (x *AuthAdapter) LoginDeviceCode(ctx context.Context, show func(DeviceCode)) (Account, error) {
	a, err := x.c.LoginDeviceCode(ctx, func(p auth.DeviceCodePrompt) {
		show(DeviceCode{Message: p.Message, UserCode: p.UserCode, VerificationURL: p.VerificationURL, ExpiresAt: p.ExpiresAt})
	})
	return x.account(ctx, a, err)
}

// Account implements Auth.
func (x *AuthAdapter) Account(ctx context.Context) (Account, error) {
	a, err := x.c.Account(ctx)
	return x.account(ctx, a, err)
}

func (x *AuthAdapter) account(ctx context.Context, a auth.Account, err error) (Account, error) {
	if err != nil && a.HomeAccountID == "" {
		return Account{}, mapAuthErr(err)
	}
	out := Account{Username: a.Username, TenantID: a.TenantID, UserID: a.ObjectID}
	// MSAL reports the authority's tenant ("organizations") as the realm;
	// the home account id "<oid>.<tid>" has the user's real tenant.
	if _, tid, ok := strings.Cut(a.HomeAccountID, "."); ok && tid != "" {
		out.TenantID = tid
	}
	x.mu.Lock()
	out.DisplayName = x.displayName
	x.mu.Unlock()
	if out.DisplayName == "" && x.graph != nil {
		if me, gerr := x.graph.Me(ctx); gerr == nil {
			x.mu.Lock()
			x.displayName = me.DisplayName
			x.mu.Unlock()
			out.DisplayName = me.DisplayName
		}
	}
	if err != nil {
		// Signed in to Graph, but the service API refused the account.
		return out, mapAuthErr(err)
	}
	return out, nil
}

// Logout implements Auth.
func (x *AuthAdapter) Logout(ctx context.Context) error {
	x.mu.Lock()
	x.displayName = ""
	x.mu.Unlock()
	return mapAuthErr(x.c.Logout(ctx))
}

// mapAuthErr gives a consent refusal and a missing keyring the agent's own
// types; every other failure already carries its failure kind.
func mapAuthErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *auth.ConsentError
	switch {
	case errors.As(err, &ce):
		return &ConsentError{AdminConsentURL: ce.AdminConsentURL, Err: err}
	case errors.Is(err, keyring.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrKeyringUnavailable, err)
	}
	return err
}

// graphDirectory adapts *graph.Client to Directory.
type graphDirectory struct {
	gc *graph.Client
}

func fromGraph(d graph.Drive) RemoteDrive {
	return RemoteDrive{ID: d.ID, Name: d.Name, Kind: string(d.Kind), SiteURL: d.SiteURL, Library: d.Library, ReadOnly: d.ReadOnly,
		LibraryPath: d.LibraryPath()}
}

func (g *graphDirectory) Discover(ctx context.Context) ([]RemoteDrive, error) {
	ds, err := g.gc.Drives(ctx)
	out := make([]RemoteDrive, 0, len(ds))
	for _, d := range ds {
		out = append(out, fromGraph(d))
	}
	return out, mapAuthErr(err)
}

func (g *graphDirectory) Resolve(ctx context.Context, t apitype.Target) (RemoteDrive, error) {
	switch t.Kind {
	case apitype.TargetOneDrive:
		d, err := g.gc.MyDrive(ctx)
		return fromGraph(d), mapAuthErr(err)
	case apitype.TargetSharePoint:
		// A site the user may not open is a 403: to the mapping, as for
		// a drive id, it is a library out of reach (lookupErr).
		d, err := g.gc.DriveByURL(ctx, t.SiteURL, t.LibraryName)
		return g.folder(ctx, fromGraph(d), t, lookupErr(err))
	case apitype.TargetDriveID:
		d, err := g.gc.DriveByID(ctx, t.DriveID)
		return g.folder(ctx, fromGraph(d), t, lookupErr(err))
	case apitype.TargetTeam:
		d, err := g.gc.TeamDrive(ctx, t.GroupID)
		return g.folder(ctx, fromGraph(d), t, lookupErr(err))
	}
	return RemoteDrive{}, fmt.Errorf("mapping target kind %q is not supported by this version of Mapdrive", t.Kind)
}

// folder finds the folder of a target that names one inside drive rd
// (GET /drives/{id}/root:/{path}:). A folder that is not there, or a path
// that is a file, is ErrFolderMissing.
func (g *graphDirectory) folder(ctx context.Context, rd RemoteDrive, t apitype.Target, err error) (RemoteDrive, error) {
	if err != nil || t.FolderPath == "" {
		return rd, err
	}
	p, ok := apitype.CleanFolderPath(t.FolderPath)
	if !ok || p == "" {
		return rd, fmt.Errorf("%w: the mapping's folder path is not a path inside the library", ErrFolderMissing)
	}
	it, err := g.gc.ItemByPath(ctx, rd.ID, p)
	switch {
	case errors.Is(err, vfs.ErrNotFound) || errors.Is(err, vfs.ErrAccessDenied):
		return rd, fmt.Errorf("%w: no folder at this path in the library, or you have no access to it: %w", ErrFolderMissing, err)
	case err != nil:
		return rd, mapAuthErr(err)
	case !it.IsDir:
		return rd, fmt.Errorf("%w: the mapping's path is a file, not a folder", ErrFolderMissing)
	}
	rd.RootPath, rd.RootID = p, it.ID
	rd.LibraryPath = strings.TrimRight(rd.LibraryPath, "/") + p
	return rd, nil
}

// lookupErr maps the error of a drive lookup by id. Graph answers 403 for
// a drive or group the user may not see as well as for one that is gone,
// so both mean the mapping does not reach a drive of this user: not found.
func lookupErr(err error) error {
	if err != nil && errors.Is(err, vfs.ErrAccessDenied) && !errors.Is(err, vfs.ErrNotFound) {
		return fmt.Errorf("%w: %w", failure.NotFound, err)
	}
	return mapAuthErr(err)
}

// graphLinks adapts *graph.Client to Links.
type graphLinks struct{ gc *graph.Client }

func (g graphLinks) WebURL(ctx context.Context, driveID, path string) (string, error) {
	u, err := g.gc.WebURL(ctx, driveID, path)
	return u, linkErr(err)
}

func (g graphLinks) CreateLink(ctx context.Context, driveID, path, linkType, scope string) (string, error) {
	l, err := g.gc.CreateLink(ctx, driveID, path, linkType, scope)
	if err != nil {
		return "", linkErr(err)
	}
	if l.Scope != "" && l.Scope != scope {
		// Never hand out a link of another scope than the policy's.
		return "", fmt.Errorf("%w: asked for a %s link, got %s", ErrLinkRefused, scope, l.Scope)
	}
	return l.WebURL, nil
}

// linkErr maps a link call's error: access denied (SharePoint's sharing
// settings, or an item the user may not share) is ErrLinkRefused.
func linkErr(err error) error {
	if err != nil && errors.Is(err, vfs.ErrAccessDenied) && !errors.Is(err, vfs.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrLinkRefused, err)
	}
	return mapAuthErr(err)
}

// fuseMounter mounts drives with vfs and fusefs.
type fuseMounter struct {
	gc  *graph.Client
	log *slog.Logger
}

func (f *fuseMounter) Mount(ctx context.Context, spec MountSpec) (Mount, error) {
	log := f.log.With("mount", spec.Key)
	var fsys mountFS
	var mfs fusefs.FileSystem
	// A combined drive's libraries' cache folders, by name and all.
	var dirs map[string]string
	var opened map[string]*vfs.FS
	if spec.Drive.Kind == KindCombined {
		u, d, o, err := f.openCombined(ctx, spec, spec.Poll, log)
		if err != nil {
			return nil, err
		}
		fsys, mfs, dirs, opened = u, u, d, o
	} else {
		v, err := f.open(ctx, spec, spec.Poll, log)
		if err != nil {
			return nil, err
		}
		fsys, mfs = v, v
	}
	pins := spec.Pins
	if spec.PinAll {
		pins = append(pins, "/")
	}
	for _, p := range pins {
		if err := fsys.Pin(ctx, p, true); err != nil {
			log.Warn("could not keep a folder offline", "err", err)
		}
	}
	m, err := fusefs.Mount(ctx, mfs, spec.Mountpoint, fusefs.Options{Logger: log, VolumeName: spec.Label})
	if err != nil {
		fsys.Close()
		return nil, err
	}
	fm := &fuseMount{fsMount: fsMount{fs: fsys}, m: m, log: log}
	if u, ok := fsys.(*union.FS); ok {
		return &combinedMount{fuseMount: fm, f: f, u: u, spec: spec, dirs: dirs, opened: opened}, nil
	}
	return fm, nil
}

// open opens the drive's cache and state as a vfs.FS.
func (f *fuseMounter) open(ctx context.Context, spec MountSpec, poll time.Duration, log *slog.Logger) (*vfs.FS, error) {
	return f.openVFS(ctx, spec, poll, log, "")
}

// openVFS is open with the inode space of a combined drive's library
// (vfs.Options.InoSpace), "" for a drive of its own.
func (f *fuseMounter) openVFS(ctx context.Context, spec MountSpec, poll time.Duration, log *slog.Logger, inoSpace string) (*vfs.FS, error) {
	fsys, err := vfs.New(ctx, vfs.Options{
		Remote: graph.NewDrive(f.gc, spec.Drive.ID), DriveID: spec.Drive.ID, StateDir: filepath.Join(spec.CacheDir, "meta"),
		CacheDir: filepath.Join(spec.CacheDir, "content"), CacheMaxBytes: spec.CacheMax, CacheKey: spec.CacheKey,
		PollInterval: poll, ReadOnly: spec.ReadOnly, Logger: log, LibraryPath: spec.Drive.LibraryPath,
		RootID: spec.Drive.RootID, ExclusiveEditing: spec.Exclusive, InoSpace: inoSpace,
		// Windows users expect NTFS's names: any case finds a file.
		CaseInsensitive: runtime.GOOS == "windows",
	})
	if err != nil {
		return nil, fmt.Errorf("open the drive's cache: %w", mapAuthErr(err))
	}
	return fsys, nil
}

// Drain implements Drainer: the drive's cache opened without a mount or
// a delta poll, its upload queue running.
func (f *fuseMounter) Drain(ctx context.Context, spec MountSpec) (Mount, error) {
	log := f.log.With("drain", spec.Key)
	if spec.Drive.Kind == KindCombined {
		u, _, _, err := f.openCombined(ctx, spec, -1, log)
		if err != nil {
			return nil, err
		}
		return &drainMount{fsMount{fs: u}}, nil
	}
	fsys, err := f.open(ctx, spec, -1, log)
	if err != nil {
		return nil, err
	}
	return &drainMount{fsMount{fs: fsys}}, nil
}

// mountFS is what the agent needs of a mounted drive's filesystem besides
// the FUSE operations: a *vfs.FS, or a combined drive's union.FS.
type mountFS interface {
	Status() vfs.Status
	Pin(ctx context.Context, p string, pinned bool) error
	SetUploadsPaused(paused bool)
	WakeUploads()
	Close() error
}

// fsMount is what a mounted and a draining drive share: the filesystem.
type fsMount struct{ fs mountFS }

// drainMount is a drive's cache open without a mount (Drainer).
type drainMount struct{ fsMount }

// Unmount closes the cache; what is not sent stays journaled.
func (m *drainMount) Unmount(ctx context.Context) error { return m.fs.Close() }

// CleanStale implements StaleCleaner: it unmounts a dead FUSE mount left
// at mountpoint by a killed agent.
func (f *fuseMounter) CleanStale(ctx context.Context, mountpoint string) error {
	return fusefs.CleanStale(ctx, mountpoint, f.log)
}

// fuseMount is a mounted vfs.FS.
type fuseMount struct {
	fsMount
	m   *fusefs.Mounted
	log *slog.Logger
}

// Unmount unmounts and closes the cache. A mount already gone (unmounted
// by libfuse's signal handler or fusermount -u) is not an error: the
// cache is still closed.
func (m *fuseMount) Unmount(ctx context.Context) error {
	if !mountPresent(m.m.Mountpoint()) {
		// Gone from outside: let the FUSE loop finish first, so the
		// host's teardown is done before fusefs touches it again.
		select {
		case <-m.m.Done():
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	if err := m.m.Unmount(); err != nil {
		if mountPresent(m.m.Mountpoint()) {
			return err
		}
		m.log.Debug("the drive was already unmounted", "err", err)
	}
	return m.fs.Close()
}

func (m *fsMount) Pin(ctx context.Context, path string, pinned bool) error {
	return m.fs.Pin(ctx, path, pinned)
}

// SetUploadsPaused pauses the upload queue.
func (m *fsMount) SetUploadsPaused(paused bool) error {
	m.fs.SetUploadsPaused(paused)
	return nil
}

func (m *fsMount) Stats() MountStats {
	st := mountStats(m.fs.Status())
	if u, ok := m.fs.(*union.FS); ok {
		for _, r := range u.TopRefusals() {
			st.Errors = append(st.Errors, apitype.Problem{Code: apitype.CodeCombinedTop, Message: r.Path + ": " + r.Err, Time: r.Time,
				Action: "Create, rename and delete files and folders inside one of the libraries; your IT administrator chooses the libraries."})
		}
	}
	return st
}

func (m *fsMount) WakeUploads() { m.fs.WakeUploads() }

// mountStats turns a filesystem's status into what the agent reports.
func mountStats(s vfs.Status) MountStats {
	out := MountStats{Online: s.Online, CacheBytes: s.CacheUsed, Pending: s.QueueLength}
	for _, t := range s.Transfers {
		dir := apitype.Download
		if t.Upload {
			dir = apitype.Upload
		}
		out.Transfers = append(out.Transfers, apitype.Transfer{ID: string(dir) + ":" + t.Path, Path: t.Path,
			Direction: dir, Done: t.Done, Total: t.Total, State: "active"})
	}
	for _, c := range s.Conflicts {
		out.Conflicts = append(out.Conflicts, apitype.Conflict{Path: c.Path, ConflictPath: c.ConflictPath, Time: c.Time})
	}
	for _, e := range s.Errors {
		if e.Refused {
			out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeNameRefused, Message: e.Path + ": " + e.Err,
				Action: "Choose a shorter name or one SharePoint accepts; nothing was saved under this name.", Time: e.Time})
			continue
		}
		out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeUploadFailed, Message: e.Path + ": " + e.Err,
			Action: "Mapdrive keeps the change and retries on its own.", Time: e.Time})
	}
	if s.RootProblem != "" {
		out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeFolderMissing, Message: s.RootProblem,
			Action: "Your files here are kept, and changes wait to upload. Ask your IT administrator to point the mapping at the folder's new place."})
	}
	if s.QuotaFull {
		out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeQuotaFull, Message: "the drive is full; uploads wait for space",
			Action: "Free space in the drive (or ask for more); your changes stay in the cache meanwhile."})
	}
	for _, e := range s.CheckedOut {
		out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeCheckedOut, Message: e.Path + ": " + e.Err,
			Action: "Open it read-only, or ask them to close it: it is checked in when they are done.", Time: e.Time})
	}
	for _, e := range s.NotDeleted {
		out.Errors = append(out.Errors, apitype.Problem{Code: apitype.CodeNotDeleted, Message: e.Path + ": " + e.Err,
			Action: "The other version is back in the drive; delete it again if you still want it gone.", Time: e.Time})
	}
	if len(s.UnavailableOffline) > 0 {
		out.Errors = append(out.Errors, unavailableOffline(s.UnavailableOffline))
	}
	return out
}

// unavailableOffline is the problem of folders that show empty offline
// because they were never listed while online.
func unavailableOffline(paths []string) apitype.Problem {
	msg := "the folder " + paths[0] + " was never opened while online, so it is empty offline; it will list when the connection returns"
	if len(paths) > 1 {
		msg = "the folders " + strings.Join(paths, ", ") + " were never opened while online, so they are empty offline; they will list when the connection returns"
	}
	return apitype.Problem{Code: apitype.CodeUnavailableOffline, Message: msg,
		Action: "Nothing is lost: the files stay on the server."}
}
