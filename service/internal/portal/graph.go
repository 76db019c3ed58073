package portal

import (
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

// graphClient makes the portal's few Graph calls with the admin's
// delegated token.
type graphClient struct {
	base string // immutable, e.g. https://graph.microsoft.com/v1.0
	hc   *http.Client
}

// Errors of site lookups, shown inline on the mapping form.
var (
	errSiteURL         = errors.New("enter the site's address as an https URL such as https://contoso.sharepoint.com/sites/Finance")
	errSiteNotFound    = errors.New("no SharePoint site at this address, or you cannot see it: check the URL")
	errSiteUnreachable = errors.New("the site could not be reached through Microsoft Graph right now: try again")
)

// graphStatusError is a non-2xx Graph answer.
type graphStatusError struct {
	Status int
	Code   string
}

func (e *graphStatusError) Error() string { return fmt.Sprintf("graph: %d %s", e.Status, e.Code) }

func (g *graphClient) get(ctx context.Context, tok, path string, hdr map[string]string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		// The path names a customer's site: it stays out of errors and logs.
		return fmt.Errorf("graph request: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 4<<20)
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.NewDecoder(body).Decode(&e)
		return &graphStatusError{Status: resp.StatusCode, Code: e.Error.Code}
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("graph answer: decode: %w", err)
	}
	return nil
}

// library is a document library of a site.
type library struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	WebURL string `json:"webUrl"` // ".../sites/Finance/Shared Documents": the library's own address
}

// parseSiteURL checks an admin's site URL and splits it into host and
// server-relative path. It returns the URL normalised.
func parseSiteURL(raw string) (norm, host, path string, err error) {
	raw = strings.TrimSpace(raw)
	u, perr := url.Parse(raw)
	if perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(u.Path, ":") {
		return "", "", "", errSiteURL
	}
	path = u.EscapedPath()
	// Links copied from a library view end in /Shared Documents/Forms/AllItems.aspx.
	if i := strings.Index(strings.ToLower(path), "/forms/"); i >= 0 {
		path = path[:i]
		if j := strings.LastIndex(path, "/"); j >= 0 {
			path = path[:j]
		}
	}
	path = strings.TrimRight(path, "/")
	return "https://" + u.Host + path, u.Host, path, nil
}

// Errors of folder lookups, shown inline under the folder field.
var (
	errFolderNotFound = errors.New("no folder at this path in the library, or you cannot see it")
	errFolderIsFile   = errors.New("this path is a file, not a folder")
)

// checkFolder checks that folder (apitype.CleanFolderPath form, "/Reports")
// is a folder of library libID: GET /drives/{id}/root:/{path}:.
func (g *graphClient) checkFolder(ctx context.Context, tok, libID, folder string) error {
	segs := strings.Split(strings.Trim(folder, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	var it struct {
		Folder *struct{} `json:"folder"`
	}
	err := g.get(ctx, tok, "/drives/"+url.PathEscape(libID)+"/root:/"+strings.Join(segs, "/")+":?$select=id,name,folder,file", nil, &it)
	var se *graphStatusError
	switch {
	case errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusForbidden):
		return errFolderNotFound
	case err != nil:
		return siteError(err)
	case it.Folder == nil:
		return errFolderIsFile
	}
	return nil
}

// siteLibraries resolves a site URL and lists its libraries.
func (g *graphClient) siteLibraries(ctx context.Context, tok, siteURL string) ([]library, error) {
	_, host, path, err := parseSiteURL(siteURL)
	if err != nil {
		return nil, err
	}
	var site struct {
		ID string `json:"id"`
	}
	p := "/sites/" + url.PathEscape(host)
	if path != "" {
		p += ":" + path
	}
	if err := g.get(ctx, tok, p, nil, &site); err != nil {
		return nil, siteError(err)
	}
	var drives struct {
		Value []library `json:"value"`
	}
	if err := g.get(ctx, tok, "/sites/"+url.PathEscape(site.ID)+"/drives?$select=id,name,webUrl", nil, &drives); err != nil {
		return nil, siteError(err)
	}
	return drives.Value, nil
}

// splitFolderURL reads an address an admin copied from a library or a
// folder in the browser, ".../sites/Finance/Shared Documents/Reports",
// which names no site: it finds the site (the /sites/{name} or
// /teams/{name} at its start), the library whose own address the rest
// starts with (its URL name, "Shared Documents", is not its display name,
// "Documents"), and the folder path after it ("/Reports"; "" for the
// library itself). ok is false when the address is not of that shape;
// a subsite's libraries are not found this way (paste the subsite's own
// address instead).
func (g *graphClient) splitFolderURL(ctx context.Context, tok, raw string) (site string, libs []library, lib library, folder string, ok bool) {
	_, host, path, err := parseSiteURL(raw)
	if err != nil {
		return "", nil, library{}, "", false
	}
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return "", nil, library{}, "", false
	}
	segs := strings.Split(strings.Trim(decoded, "/"), "/")
	if len(segs) < 3 || (!strings.EqualFold(segs[0], "sites") && !strings.EqualFold(segs[0], "teams")) {
		return "", nil, library{}, "", false
	}
	site = "https://" + host + "/" + url.PathEscape(segs[0]) + "/" + url.PathEscape(segs[1])
	libs, err = g.siteLibraries(ctx, tok, site)
	if err != nil {
		return "", nil, library{}, "", false
	}
	for _, l := range libs {
		u, err := url.Parse(l.WebURL)
		if err != nil || !strings.EqualFold(u.Host, host) {
			continue
		}
		lp := strings.TrimRight(u.Path, "/")
		if rest, found := strings.CutPrefix(decoded, lp); found && (rest == "" || strings.HasPrefix(rest, "/")) {
			return site, libs, l, rest, true
		}
	}
	return "", nil, library{}, "", false
}

func siteError(err error) error {
	var se *graphStatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusNotFound, http.StatusForbidden, http.StatusBadRequest:
			return errSiteNotFound
		case http.StatusUnauthorized:
			return errSiteUnreachable
		}
	}
	return fmt.Errorf("%w (%v)", errSiteUnreachable, err)
}

// group is an Entra group.
type group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// searchGroups finds groups whose name has a word starting with q.
func (g *graphClient) searchGroups(ctx context.Context, tok, q string) ([]group, error) {
	q = strings.NewReplacer(`"`, "", `\`, "").Replace(strings.TrimSpace(q))
	if q == "" {
		return nil, nil
	}
	var out struct {
		Value []group `json:"value"`
	}
	path := "/groups?$search=" + url.QueryEscape(`"displayName:`+q+`"`) + "&$select=id,displayName&$top=25"
	if err := g.get(ctx, tok, path, map[string]string{"ConsistencyLevel": "eventual"}, &out); err != nil {
		return nil, fmt.Errorf("search groups: %w", err)
	}
	return out.Value, nil
}

// groupNames maps group ids to names, for showing assignments.
func (g *graphClient) groupNames(ctx context.Context, tok string) (map[string]string, error) {
	var out struct {
		Value []group `json:"value"`
	}
	if err := g.get(ctx, tok, "/groups?$select=id,displayName&$top=999", nil, &out); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	m := make(map[string]string, len(out.Value))
	for _, gr := range out.Value {
		m[strings.ToLower(gr.ID)] = gr.DisplayName
	}
	return m, nil
}

// redactURLError drops the URL from a transport error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
