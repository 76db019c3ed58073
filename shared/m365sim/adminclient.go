package m365sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AdminClient drives a simulator's admin API over HTTPS. Tests in other
// modules use it to inject faults, read counters and act as users.
type AdminClient struct {
	base string       // constant; "https://host:port"
	hc   *http.Client // constant; never follows redirects
}

// NewAdminClient returns a client of the simulator at baseURL. hc must
// trust the simulator's CA (Sim.HTTPClient does); its redirect policy is
// replaced so that 302s from Graph reach the caller.
func NewAdminClient(baseURL string, hc *http.Client) *AdminClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &AdminClient{base: strings.TrimSuffix(baseURL, "/"), hc: &c}
}

// Error is an error answer of the simulator in Graph's shape, from the
// admin API or from Graph through act-as.
type Error struct {
	Status  int
	Code    string
	Inner   string
	Message string
}

func (e *Error) Error() string {
	if e.Inner != "" {
		return fmt.Sprintf("m365sim: %d %s (%s): %s", e.Status, e.Code, e.Inner, e.Message)
	}
	return fmt.Sprintf("m365sim: %d %s: %s", e.Status, e.Code, e.Message)
}

// errorFrom reads a non-2xx response into *Error.
func errorFrom(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Inner = body.Error.Code, body.Error.Message, body.Error.InnerError.Code
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	return e
}

// call sends one admin request with an optional JSON body and decodes a
// JSON answer into out when out is non-nil.
func (c *AdminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, errorFrom(resp))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// Info describes the simulator.
func (c *AdminClient) Info(ctx context.Context) (*Info, error) {
	var out Info
	return &out, c.call(ctx, http.MethodGet, "/_admin/info", nil, &out)
}

// Faults returns the fault set with each rule's Fired count.
func (c *AdminClient) Faults(ctx context.Context) (FaultSet, error) {
	var out FaultSet
	return out, c.call(ctx, http.MethodGet, "/_admin/faults", nil, &out)
}

// SetFaults replaces every rule (and the seed, when non-zero).
func (c *AdminClient) SetFaults(ctx context.Context, set FaultSet) (FaultSet, error) {
	if set.Faults == nil {
		set.Faults = []Fault{}
	}
	var out FaultSet
	return out, c.call(ctx, http.MethodPut, "/_admin/faults", set, &out)
}

// AddFault adds one rule and returns it with its ID.
func (c *AdminClient) AddFault(ctx context.Context, f Fault) (Fault, error) {
	var out Fault
	return out, c.call(ctx, http.MethodPost, "/_admin/faults", f, &out)
}

// RemoveFault removes one rule.
func (c *AdminClient) RemoveFault(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/_admin/faults/"+url.PathEscape(id), nil, nil)
}

// ClearFaults removes every rule and closes every throttling window.
func (c *AdminClient) ClearFaults(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/_admin/faults", nil, nil)
}

// Counters returns the request counters.
func (c *AdminClient) Counters(ctx context.Context) (*Counters, error) {
	var out Counters
	return &out, c.call(ctx, http.MethodGet, "/_admin/counters", nil, &out)
}

// ResetCounters zeroes the request counters and throttling statistics.
func (c *AdminClient) ResetCounters(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/_admin/counters", nil, nil)
}

// ApproveDeviceCode signs upn in on a pending device-code flow, as the user
// would on the device-login page.
func (c *AdminClient) ApproveDeviceCode(ctx context.Context, userCode, upn string) error {
	return c.call(ctx, http.MethodPost, "/_admin/devicecode/approve", DeviceCodeApproval{UserCode: userCode, UPN: upn}, nil)
}

// ExpireDownloadURLs makes every download URL handed out so far invalid.
func (c *AdminClient) ExpireDownloadURLs(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/_admin/expire-download-urls", nil, nil)
}

// ExpireDelta makes every delta token of a drive stale (410 resyncRequired).
func (c *AdminClient) ExpireDelta(ctx context.Context, driveID string) error {
	return c.ExpireDeltaWith(ctx, driveID, "")
}

// ExpireDeltaWith makes every delta token of a drive stale, answering 410
// resyncRequired with the inner code inner: "resyncChangesApplyDifferences"
// (also "") or "resyncChangesUploadDifferences".
func (c *AdminClient) ExpireDeltaWith(ctx context.Context, driveID, inner string) error {
	path := "/_admin/expire-delta/" + url.PathEscape(driveID)
	if inner != "" {
		path += "?inner=" + url.QueryEscape(inner)
	}
	return c.call(ctx, http.MethodPost, path, nil, nil)
}

// Revoke revokes a user's sessions: every refresh token, and (through
// continuous access evaluation) the access tokens of clients that
// declared cp1.
func (c *AdminClient) Revoke(ctx context.Context, tenant, user string) error {
	return c.call(ctx, http.MethodPost, "/_admin/revoke/"+url.PathEscape(tenant)+"/"+url.PathEscape(user), nil, nil)
}

// SetSiteRole makes user a member (SiteMember) or visitor (SiteVisitor) of
// site (name or id) of tenant, at once.
func (c *AdminClient) SetSiteRole(ctx context.Context, tenant, site, user, role string) error {
	return c.call(ctx, http.MethodPut, sitePath(tenant, site, user), SiteRole{Role: role}, nil)
}

// RemoveFromSite takes user's access to site (name or id) of tenant away,
// at once.
func (c *AdminClient) RemoveFromSite(ctx context.Context, tenant, site, user string) error {
	return c.call(ctx, http.MethodDelete, sitePath(tenant, site, user), nil, nil)
}

func sitePath(tenant, site, user string) string {
	return "/_admin/sites/" + url.PathEscape(tenant) + "/" + url.PathEscape(site) + "/members/" + url.PathEscape(user)
}

// As returns a client that performs Graph requests as a user of a tenant
// (names, domains, UPNs or ids), bypassing faults and counters.
func (c *AdminClient) As(tenant, user string) *UserClient {
	return &UserClient{c: c, prefix: "/_admin/as/" + url.PathEscape(tenant) + "/" + url.PathEscape(user) + "/"}
}

// UserClient performs Graph requests as one user through the admin API.
type UserClient struct {
	c      *AdminClient // constant
	prefix string       // constant; "/_admin/as/{tenant}/{user}/"
}

// Item is the part of a Graph driveItem tests usually need.
type Item struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	ETag                 string    `json:"eTag"`
	CTag                 string    `json:"cTag"`
	Size                 int64     `json:"size"`
	LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
	ParentReference      *struct {
		DriveID string `json:"driveId"`
		ID      string `json:"id"`
		Path    string `json:"path"`
	} `json:"parentReference,omitempty"`
	Folder *struct {
		ChildCount int `json:"childCount"`
	} `json:"folder,omitempty"`
	File *struct {
		MimeType string `json:"mimeType"`
		Hashes   struct {
			QuickXorHash string `json:"quickXorHash"`
		} `json:"hashes"`
	} `json:"file,omitempty"`
	Deleted     *struct{} `json:"deleted,omitempty"`
	DownloadURL string    `json:"@microsoft.graph.downloadUrl,omitempty"`
	// Publication is the publicationFacet: present while checked out.
	Publication *struct {
		Level        string `json:"level"`
		CheckedOutBy struct {
			User struct {
				ID          string `json:"id"`
				DisplayName string `json:"displayName"`
			} `json:"user"`
		} `json:"checkedOutBy"`
	} `json:"publication,omitempty"`
}

// Do sends a Graph request as the user. path is relative to /v1.0 ("me/drive",
// "/drives/{id}/root:/a.txt:/content?x=y", an absolute nextLink or
// download URL of this simulator), already escaped. The response is
// returned as is, 302s included.
func (u *UserClient) Do(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	if i := strings.Index(path, "://"); i >= 0 {
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		}
	}
	path = strings.TrimPrefix(strings.TrimPrefix(path, "/"), "v1.0/")
	req, err := http.NewRequestWithContext(ctx, method, u.c.base+u.prefix+path, body)
	if err != nil {
		return nil, fmt.Errorf("as user: %s %s: %w", method, path, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := u.c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("as user: %s %s: %w", method, path, err)
	}
	return resp, nil
}

// JSON sends a Graph request with an optional JSON body and decodes a JSON
// answer into out when out is non-nil. Non-2xx answers become *Error.
func (u *UserClient) JSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	hdr := http.Header{}
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("as user: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
		hdr.Set("Content-Type", "application/json")
	}
	resp, err := u.Do(ctx, method, path, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("as user: %s %s: %w", method, path, errorFrom(resp))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("as user: decode %s %s: %w", method, path, err)
	}
	return nil
}

// ItemPath is the Graph path of the item at path (slash-separated, "" for
// the root) in a drive; driveID "" means the user's OneDrive.
func ItemPath(driveID, path string) string {
	d := "me/drive"
	if driveID != "" {
		d = "drives/" + url.PathEscape(driveID)
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return d + "/root"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return d + "/root:/" + strings.Join(segs, "/") + ":"
}

// Get returns the item at path.
func (u *UserClient) Get(ctx context.Context, driveID, path string) (*Item, error) {
	var it Item
	return &it, u.JSON(ctx, http.MethodGet, ItemPath(driveID, path), nil, &it)
}

// Upload writes a file at path with a simple upload (replacing any), as
// another client of the user would.
func (u *UserClient) Upload(ctx context.Context, driveID, path string, data []byte) (*Item, error) {
	resp, err := u.Do(ctx, http.MethodPut, ItemPath(driveID, path)+"/content", bytes.NewReader(data),
		http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("as user: upload %s: %w", path, errorFrom(resp))
	}
	var it Item
	if err := json.NewDecoder(resp.Body).Decode(&it); err != nil {
		return nil, fmt.Errorf("as user: decode upload of %s: %w", path, err)
	}
	return &it, nil
}

// Mkdir creates folder name under parent (failing if it exists).
func (u *UserClient) Mkdir(ctx context.Context, driveID, parent, name string) (*Item, error) {
	var it Item
	err := u.JSON(ctx, http.MethodPost, ItemPath(driveID, parent)+"/children",
		map[string]any{"name": name, "folder": map[string]any{}, "@microsoft.graph.conflictBehavior": "fail"}, &it)
	return &it, err
}

// AddShortcut adds a shortcut named name to the root of the user's
// OneDrive pointing at the folder at targetPath in drive targetDrive, as
// "Add shortcut to My files" does.
func (u *UserClient) AddShortcut(ctx context.Context, name, targetDrive, targetPath string) (*Item, error) {
	target, err := u.Get(ctx, targetDrive, targetPath)
	if err != nil {
		return nil, err
	}
	var it Item
	err = u.JSON(ctx, http.MethodPost, ItemPath("", "")+"/children", map[string]any{"name": name,
		"remoteItem": map[string]any{"id": target.ID, "parentReference": map[string]any{"driveId": targetDrive}}}, &it)
	return &it, err
}

// Delete deletes the item at path (to the recycle bin).
func (u *UserClient) Delete(ctx context.Context, driveID, path string) error {
	return u.JSON(ctx, http.MethodDelete, ItemPath(driveID, path), nil, nil)
}

// Move renames and/or moves the item at path; newParent "" keeps the parent.
func (u *UserClient) Move(ctx context.Context, driveID, path, newParent, newName string) (*Item, error) {
	patch := map[string]any{}
	if newName != "" {
		patch["name"] = newName
	}
	if newParent != "" {
		p, err := u.Get(ctx, driveID, newParent)
		if err != nil {
			return nil, err
		}
		patch["parentReference"] = map[string]string{"id": p.ID}
	}
	var it Item
	return &it, u.JSON(ctx, http.MethodPatch, ItemPath(driveID, path), patch, &it)
}

// List returns every child of the folder at path, following nextLinks.
func (u *UserClient) List(ctx context.Context, driveID, path string) ([]Item, error) {
	var out []Item
	next := ItemPath(driveID, path) + "/children"
	for next != "" {
		var page struct {
			Value    []Item `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := u.JSON(ctx, http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		next = page.NextLink
	}
	return out, nil
}

// Download returns the content of the file at path, through /content and
// the download URL it redirects to.
func (u *UserClient) Download(ctx context.Context, driveID, path string) ([]byte, error) {
	resp, err := u.Do(ctx, http.MethodGet, ItemPath(driveID, path)+"/content", nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusFound {
		loc := resp.Header.Get("Location")
		resp.Body.Close()
		if resp, err = u.Do(ctx, http.MethodGet, loc, nil, nil); err != nil {
			return nil, err
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("as user: download %s: %w", path, errorFrom(resp))
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("as user: download %s: %w", path, err)
	}
	return data, nil
}

// IsStatus reports whether err is an *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
