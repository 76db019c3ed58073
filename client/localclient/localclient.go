// Package localclient is the Go client of the agent's local API. The CLI
// and the tray reach the agent only through it, over the per-user socket
// (named pipe on Windows); they never import the agent's packages.
package localclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// ErrAgentNotRunning is returned (wrapped) when nothing answers on the
// socket. Test with errors.Is.
var ErrAgentNotRunning = errors.New("the Mapdrive agent is not running")

// ErrUntrustedAgent is returned (wrapped) when the process serving the
// socket is not the current user's own agent: another user may be
// impersonating it. Nothing was sent to it. Test with errors.Is.
var ErrUntrustedAgent = ipc.ErrUntrustedAgent

// NotRunningHint says what to do about ErrAgentNotRunning.
const NotRunningHint = "Start it with `mapdrive agent` (or open the Mapdrive tray app), then try again."

// Client talks to one agent. It is safe for concurrent use.
type Client struct {
	socket string       // constant after construction
	hc     *http.Client // constant after construction
}

// New returns a client for the agent at socket; "" means the default
// per-user path (ipc.DefaultPath).
func New(socket string) (*Client, error) {
	if socket == "" {
		p, err := ipc.DefaultPath()
		if err != nil {
			return nil, fmt.Errorf("find the agent's socket: %w", err)
		}
		socket = p
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := ipc.Dial(ctx, socket)
			if errors.Is(err, ErrUntrustedAgent) {
				return nil, err
			}
			if err != nil {
				return nil, fmt.Errorf("%w (nothing answers on %s: %v)", ErrAgentNotRunning, socket, err)
			}
			return c, nil
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}, nil
}

// Socket returns the socket or pipe path the client uses.
func (c *Client) Socket() string { return c.socket }

// The host part is ignored: every request goes to the socket.
const base = "http://mapdrive-agent"

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when non-nil). Non-2xx answers become *apitype.Error.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("build %s request: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, ErrAgentNotRunning) || errors.Is(err, ErrUntrustedAgent) {
			return dialError(err)
		}
		return fmt.Errorf("talk to the agent (%s %s): %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the agent's answer to %s: %w", path, err)
	}
	return nil
}

// dialError strips the *url.Error around a dial failure: its
// `Get "http://mapdrive-agent/…"` prefix names a host that does not exist
// and only hides the reason.
func dialError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ae apitype.Error
	if err := json.Unmarshal(b, &ae); err != nil || ae.Message == "" {
		return apitype.NewError(apitype.CodeInternal,
			fmt.Sprintf("the agent answered %s", resp.Status),
			"Use the same version of mapdrive for the CLI and the agent; restart the agent if it persists.")
	}
	return &ae
}

// Code returns the problem code of an error from the agent, or "" if err
// did not come from the agent.
func Code(err error) string {
	var ae *apitype.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// Status returns the agent's current status.
func (c *Client) Status(ctx context.Context) (apitype.Status, error) {
	var st apitype.Status
	err := c.do(ctx, http.MethodGet, apitype.RouteStatus, nil, &st)
	return st, err
}

// Version returns the agent's version.
func (c *Client) Version(ctx context.Context) (apitype.VersionInfo, error) {
	var v apitype.VersionInfo
	err := c.do(ctx, http.MethodGet, apitype.RouteVersion, nil, &v)
	return v, err
}

// Login starts a sign-in. With deviceCode, the answer's Prompt holds the
// code to enter on another device; otherwise the agent opens the system
// browser and Prompt.AuthURL is the page it opened. Call WaitLogin next,
// unless Account is already set.
func (c *Client) Login(ctx context.Context, deviceCode bool) (apitype.LoginResponse, error) {
	var r apitype.LoginResponse
	err := c.do(ctx, http.MethodPost, apitype.RouteLogin, apitype.LoginRequest{DeviceCode: deviceCode}, &r)
	return r, err
}

// WaitLogin blocks until the sign-in in progress completes or fails.
func (c *Client) WaitLogin(ctx context.Context) (apitype.Account, error) {
	var a apitype.Account
	err := c.do(ctx, http.MethodPost, apitype.RouteLoginWait, struct{}{}, &a)
	return a, err
}

// Logout signs out and removes the tokens from the keyring.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.SignOut(ctx)
	return err
}

// SignOut is Logout; the answer's Message tells the user what the agent
// deleted and what it kept (changes not uploaded yet).
func (c *Client) SignOut(ctx context.Context) (apitype.Ack, error) {
	var ack apitype.Ack
	err := c.do(ctx, http.MethodPost, apitype.RouteLogout, struct{}{}, &ack)
	return ack, err
}

// WhoAmI returns the signed-in account; the error's Code is
// apitype.CodeNotSignedIn when nobody is.
func (c *Client) WhoAmI(ctx context.Context) (apitype.Account, error) {
	var a apitype.Account
	err := c.do(ctx, http.MethodGet, apitype.RouteWhoAmI, nil, &a)
	return a, err
}

// Drives lists the assigned and discovered drives.
func (c *Client) Drives(ctx context.Context) ([]apitype.Drive, error) {
	var l apitype.DriveList
	err := c.do(ctx, http.MethodGet, apitype.RouteDrives, nil, &l)
	return l.Drives, err
}

// Mount mounts drive (id or name) at mountpoint ("" for the default; "X:"
// for a drive letter on Windows).
func (c *Client) Mount(ctx context.Context, drive, mountpoint string) (apitype.Drive, error) {
	var d apitype.Drive
	err := c.do(ctx, http.MethodPost, apitype.RouteMount, apitype.MountRequest{Drive: drive, Mountpoint: mountpoint}, &d)
	return d, err
}

// Unmount unmounts the drive given by id, name or mountpoint.
func (c *Client) Unmount(ctx context.Context, target string) (apitype.Drive, error) {
	var d apitype.Drive
	err := c.do(ctx, http.MethodPost, apitype.RouteUnmount, apitype.UnmountRequest{Target: target}, &d)
	return d, err
}

// Refresh asks the agent to fetch the licence, mappings and drive list now
// and returns its status once that is done; newly assigned drives are
// mounted by then.
func (c *Client) Refresh(ctx context.Context) (apitype.Status, error) {
	var st apitype.Status
	err := c.do(ctx, http.MethodPost, apitype.RouteRefresh, struct{}{}, &st)
	return st, err
}

// PauseUploads holds every upload queue; changes stay in the cache.
func (c *Client) PauseUploads(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, apitype.RoutePause, struct{}{}, nil)
}

// ResumeUploads restarts the upload queues.
func (c *Client) ResumeUploads(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, apitype.RouteResume, struct{}{}, nil)
}

// Pin keeps path of drive offline.
func (c *Client) Pin(ctx context.Context, drive, path string) error {
	return c.do(ctx, http.MethodPost, apitype.RoutePin, apitype.PinRequest{Drive: drive, Path: path}, nil)
}

// Unpin lets the cache evict path of drive again.
func (c *Client) Unpin(ctx context.Context, drive, path string) error {
	return c.do(ctx, http.MethodPost, apitype.RouteUnpin, apitype.PinRequest{Drive: drive, Path: path}, nil)
}

// WebURL returns the address that opens a file or folder in the browser;
// req names an absolute local path inside a mounted drive, or a drive and
// a path inside it.
func (c *Client) WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	var l apitype.Link
	err := c.do(ctx, http.MethodPost, apitype.RouteWebURL, req, &l)
	return l, err
}

// Link returns a sharing link to a file or folder at the scope the
// organisation's policy allows; an *apitype.Error with CodeLinksDisabled
// when it allows none.
func (c *Client) Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	var l apitype.Link
	err := c.do(ctx, http.MethodPost, apitype.RouteLink, req, &l)
	return l, err
}

// Settings returns the user's settings.
func (c *Client) Settings(ctx context.Context) (apitype.Settings, error) {
	var s apitype.Settings
	err := c.do(ctx, http.MethodGet, apitype.RouteSettings, nil, &s)
	return s, err
}

// UpdateSettings changes the settings whose fields are non-nil.
func (c *Client) UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error) {
	var s apitype.Settings
	err := c.do(ctx, http.MethodPut, apitype.RouteSettings, u, &s)
	return s, err
}

// Watcher is a live status stream from WatchStatus.
type Watcher struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// WatchStatus opens a status stream: the current status first, then one
// after every change (and a repeat every 15 s). Close it when done, or
// cancel ctx.
func (c *Client) WatchStatus(ctx context.Context) (*Watcher, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+apitype.RouteStatusWatch, nil)
	if err != nil {
		return nil, fmt.Errorf("build status watch request: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, ErrAgentNotRunning) || errors.Is(err, ErrUntrustedAgent) {
			return nil, dialError(err)
		}
		return nil, fmt.Errorf("watch the agent's status: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return &Watcher{body: resp.Body, dec: json.NewDecoder(bufio.NewReader(resp.Body))}, nil
}

// Next blocks for the next status. It returns io.EOF when the agent ends
// the stream (for instance because it stopped).
func (w *Watcher) Next() (apitype.Status, error) {
	var st apitype.Status
	if err := w.dec.Decode(&st); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return st, err
	}
	return st, nil
}

// Close ends the stream.
func (w *Watcher) Close() error { return w.body.Close() }
