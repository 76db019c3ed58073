// Package localapi serves the agent's local API: HTTP+JSON over the per-user
// socket from package ipc. All routes sit in one table; handlers reach the
// agent through the small interfaces below, so tests can fake it.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/version"
)

// StatusSource gives the agent's status and tells when it changes.
type StatusSource interface {
	// Status returns the current status and a channel closed at the next change.
	Status() (apitype.Status, <-chan struct{})
}

// Sessions signs the user in and out.
type Sessions interface {
	// Login starts a sign-in and returns once the user has something to do
	// (Prompt) or the sign-in is done (Account).
	Login(ctx context.Context, req apitype.LoginRequest) (apitype.LoginResponse, error)
	// WaitLogin waits for the sign-in in progress to finish.
	WaitLogin(ctx context.Context) (apitype.Account, error)
	// Logout signs out and returns what to tell the user.
	Logout(ctx context.Context) (string, error)
	WhoAmI(ctx context.Context) (apitype.Account, error)
}

// Drives lists, mounts and pins drives.
type Drives interface {
	Drives(ctx context.Context) ([]apitype.Drive, error)
	Mount(ctx context.Context, req apitype.MountRequest) (apitype.Drive, error)
	Unmount(ctx context.Context, target string) (apitype.Drive, error)
	Pin(ctx context.Context, req apitype.PinRequest, pinned bool) error
}

// Uploads pauses and resumes the upload queues of every drive.
type Uploads interface {
	SetUploadsPaused(ctx context.Context, paused bool) error
}

// Settings reads and changes the user's settings.
type Settings interface {
	Settings(ctx context.Context) (apitype.Settings, error)
	UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error)
}

// Refresher refreshes the licence, mappings and drives on demand.
type Refresher interface {
	// RefreshNow runs a refresh that starts after the call, waits for it
	// to finish (newly assigned drives are then mounted) and returns the
	// status.
	RefreshNow(ctx context.Context) (apitype.Status, error)
}

// Links gives the web address of a file or folder in a mounted drive,
// or a sharing link at the tenant's link scope.
type Links interface {
	WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error)
	Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error)
}

// Backend is everything the handlers need; the agent implements it.
type Backend interface {
	StatusSource
	Sessions
	Drives
	Uploads
	Settings
	Refresher
	Links
}

// Handler serves the local API.
type Handler struct {
	b      Backend      // constant after construction
	log    *slog.Logger // constant after construction
	mux    *http.ServeMux
	routes []route
}

type route struct {
	method, path string
	serve        func(h *Handler, w http.ResponseWriter, r *http.Request) error
}

// routes is the whole API.
var routes = []route{
	{http.MethodGet, apitype.RouteStatus, (*Handler).serveStatus},
	{http.MethodGet, apitype.RouteStatusWatch, (*Handler).serveWatch},
	{http.MethodPost, apitype.RouteLogin, (*Handler).serveLogin},
	{http.MethodPost, apitype.RouteLoginWait, (*Handler).serveLoginWait},
	{http.MethodPost, apitype.RouteLogout, (*Handler).serveLogout},
	{http.MethodGet, apitype.RouteWhoAmI, (*Handler).serveWhoAmI},
	{http.MethodGet, apitype.RouteDrives, (*Handler).serveDrives},
	{http.MethodPost, apitype.RouteMount, (*Handler).serveMount},
	{http.MethodPost, apitype.RouteUnmount, (*Handler).serveUnmount},
	{http.MethodPost, apitype.RoutePause, (*Handler).servePause},
	{http.MethodPost, apitype.RouteResume, (*Handler).serveResume},
	{http.MethodPost, apitype.RoutePin, (*Handler).servePin},
	{http.MethodPost, apitype.RouteUnpin, (*Handler).serveUnpin},
	{http.MethodGet, apitype.RouteSettings, (*Handler).serveSettings},
	{http.MethodPut, apitype.RouteSettings, (*Handler).serveUpdateSettings},
	{http.MethodGet, apitype.RouteVersion, (*Handler).serveVersion},
	{http.MethodPost, apitype.RouteRefresh, (*Handler).serveRefresh},
	{http.MethodPost, apitype.RouteWebURL, (*Handler).serveWebURL},
	{http.MethodPost, apitype.RouteLink, (*Handler).serveLink},
}

// New returns the API handler over b.
func New(b Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{b: b, log: log, mux: http.NewServeMux(), routes: routes}
	for _, rt := range routes {
		rt := rt
		h.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.serve(h, w, r); err != nil {
				h.writeError(w, r, err)
			}
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, apitype.NewError(apitype.CodeBadRequest,
			fmt.Sprintf("no such local API route %s %s", r.Method, r.URL.Path),
			"Use the same version of mapdrive for the CLI and the agent."))
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The socket is private, but a browser on the same machine could still
	// be tricked into talking to a TCP listener; refuse anything with an
	// Origin, which only browsers send.
	if r.Header.Get("Origin") != "" {
		h.writeError(w, r, apitype.NewError(apitype.CodeBadRequest, "browser requests are not accepted", ""))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Routes lists "METHOD /path" for every route (for tests and docs).
func (h *Handler) Routes() []string {
	out := make([]string, len(h.routes))
	for i, rt := range h.routes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}

// StatusCode maps a problem code to its HTTP status.
func StatusCode(code string) int {
	switch code {
	case apitype.CodeBadRequest:
		return http.StatusBadRequest
	case apitype.CodeUnknownDrive, apitype.CodeNotFound:
		return http.StatusNotFound
	case apitype.CodeNotInDrive:
		return http.StatusBadRequest
	case apitype.CodeLinksDisabled:
		return http.StatusForbidden
	case apitype.CodeMountpointBusy, apitype.CodeMountpointNotEmpty, apitype.CodeDriveLetterInUse,
		apitype.CodeAlreadyMounted, apitype.CodeNotMounted, apitype.CodeLoginInProgress:
		return http.StatusConflict
	case apitype.CodeNotSignedIn, apitype.CodeSignInExpired:
		return http.StatusUnauthorized
	case apitype.CodeConsentRequired, apitype.CodeLicenceRefused, apitype.CodeLicenceExpired, apitype.CodeLeaseInvalid:
		return http.StatusForbidden
	case apitype.CodeOffline, apitype.CodeServiceUnreachable, apitype.CodeKeyringUnavailable:
		return http.StatusServiceUnavailable
	case apitype.CodeNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// writeError is the one place errors become HTTP answers.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apitype.Error
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			ae = apitype.NewError(apitype.CodeInternal, "the request was cancelled", "Try again.")
		default:
			ae = apitype.NewError(apitype.CodeInternal, err.Error(), "Check the agent's log; if it persists, restart the agent with `mapdrive agent`.")
		}
	}
	status := StatusCode(ae.Code)
	if status >= 500 {
		h.log.Error("local API request failed", "method", r.Method, "path", r.URL.Path, "code", ae.Code, "err", err)
	}
	writeJSON(w, status, ae)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// maxBody bounds request bodies; every request is a small JSON object.
const maxBody = 64 << 10

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return apitype.NewError(apitype.CodeBadRequest, "the request body is not valid JSON for "+r.URL.Path+": "+err.Error(),
			"Use the same version of mapdrive for the CLI and the agent.")
	}
	return nil
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) error {
	st, _ := h.b.Status()
	writeJSON(w, http.StatusOK, st)
	return nil
}

// watchHeartbeat is how often the watch stream repeats the status when
// nothing changes, so a client notices a dead agent.
const watchHeartbeat = 15 * time.Second

// serveWatch streams the status as JSON lines: one now, then one after
// every change, until the client goes away.
func (h *Handler) serveWatch(w http.ResponseWriter, r *http.Request) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return errors.New("status watch: the connection cannot stream")
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	t := time.NewTicker(watchHeartbeat)
	defer t.Stop()
	for {
		st, changed := h.b.Status()
		if err := enc.Encode(st); err != nil {
			return nil // client gone
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return nil
		case <-changed:
		case <-t.C:
		}
	}
}

func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request) error {
	var req apitype.LoginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	resp, err := h.b.Login(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (h *Handler) serveLoginWait(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.b.WaitLogin(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acct)
	return nil
}

func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request) error {
	msg, err := h.b.Logout(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.Ack{OK: true, Message: msg})
	return nil
}

func (h *Handler) serveWhoAmI(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.b.WhoAmI(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, acct)
	return nil
}

func (h *Handler) serveDrives(w http.ResponseWriter, r *http.Request) error {
	ds, err := h.b.Drives(r.Context())
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []apitype.Drive{}
	}
	writeJSON(w, http.StatusOK, apitype.DriveList{Drives: ds})
	return nil
}

func (h *Handler) serveMount(w http.ResponseWriter, r *http.Request) error {
	var req apitype.MountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Drive == "" {
		return apitype.NewError(apitype.CodeBadRequest, "no drive given", "Name a drive from `mapdrive drives`.")
	}
	d, err := h.b.Mount(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) serveUnmount(w http.ResponseWriter, r *http.Request) error {
	var req apitype.UnmountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Target == "" {
		return apitype.NewError(apitype.CodeBadRequest, "no drive or mountpoint given", "Name a mounted drive from `mapdrive status`.")
	}
	d, err := h.b.Unmount(r.Context(), req.Target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) servePause(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, true)
}

func (h *Handler) serveResume(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, false)
}

func (h *Handler) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	if err := h.b.SetUploadsPaused(r.Context(), paused); err != nil {
		return err
	}
	msg := "uploads resumed"
	if paused {
		msg = "uploads paused; changes stay in the cache until you resume"
	}
	writeJSON(w, http.StatusOK, apitype.Ack{OK: true, Message: msg})
	return nil
}

func (h *Handler) servePin(w http.ResponseWriter, r *http.Request) error   { return h.pin(w, r, true) }
func (h *Handler) serveUnpin(w http.ResponseWriter, r *http.Request) error { return h.pin(w, r, false) }

func (h *Handler) pin(w http.ResponseWriter, r *http.Request, pinned bool) error {
	var req apitype.PinRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Drive == "" || req.Path == "" {
		return apitype.NewError(apitype.CodeBadRequest, "pin needs a drive and a path", "Give both, e.g. drive \"Finance\" and path \"/Reports\".")
	}
	if err := h.b.Pin(r.Context(), req, pinned); err != nil {
		return err
	}
	msg := "kept offline"
	if !pinned {
		msg = "no longer kept offline"
	}
	writeJSON(w, http.StatusOK, apitype.Ack{OK: true, Message: msg})
	return nil
}

func (h *Handler) serveSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := h.b.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (h *Handler) serveUpdateSettings(w http.ResponseWriter, r *http.Request) error {
	var u apitype.SettingsUpdate
	if err := decode(r, &u); err != nil {
		return err
	}
	if u.CacheMaxGB != nil && *u.CacheMaxGB < 0 {
		return apitype.NewError(apitype.CodeBadRequest, "the cache size cannot be negative", "Give a size in GB, or 0 for the default.")
	}
	s, err := h.b.UpdateSettings(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (h *Handler) serveVersion(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, apitype.VersionInfo{Version: version.Version, OS: runtime.GOOS, Arch: runtime.GOARCH})
	return nil
}

func (h *Handler) serveRefresh(w http.ResponseWriter, r *http.Request) error {
	st, err := h.b.RefreshNow(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *Handler) serveWebURL(w http.ResponseWriter, r *http.Request) error {
	return h.link(w, r, h.b.WebURL)
}

func (h *Handler) serveLink(w http.ResponseWriter, r *http.Request) error {
	return h.link(w, r, h.b.Link)
}

func (h *Handler) link(w http.ResponseWriter, r *http.Request, get func(context.Context, apitype.LinkRequest) (apitype.Link, error)) error {
	var req apitype.LinkRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Path == "" && req.Drive == "" {
		return apitype.NewError(apitype.CodeBadRequest, "a link needs a path", "Give the full path of a file or folder inside a mounted drive.")
	}
	l, err := get(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}
