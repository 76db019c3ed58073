package graph

// This file finds an item's web URL and creates sharing links
// (https://learn.microsoft.com/graph/api/driveitem-createlink), for
// `mapdrive link`, `mapdrive open-web` and the tray.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SharingLink is the link of a permission createLink answered.
type SharingLink struct {
	ID     string // the permission's id
	Type   string // view, edit or embed
	Scope  string // anonymous, organization or users
	WebURL string
	// Created reports whether Graph made a new link (201) rather than
	// returning the one the application already had (200).
	Created bool
}

// pathURL addresses the item at a drive-relative path: /drives/{d}/root
// for "/" or "", else /drives/{d}/root:/a/b: with each segment escaped.
func (c *Client) pathURL(driveID, path string) string {
	u := c.base + "/drives/" + url.PathEscape(driveID) + "/root"
	path = strings.Trim(path, "/")
	if path == "" {
		return u
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return u + ":/" + strings.Join(segs, "/") + ":"
}

// WebURL returns the address that opens the item at path (drive-relative,
// "/" for the root) of drive driveID in the browser.
func (c *Client) WebURL(ctx context.Context, driveID, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.pathURL(driveID, path)+"?$select=id,webUrl", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("get web URL of an item: %w", err)
	}
	if resp.StatusCode >= 400 {
		return "", fmt.Errorf("get web URL of an item: %w", decodeError(resp))
	}
	defer resp.Body.Close()
	var it struct {
		WebURL string `json:"webUrl"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&it); err != nil {
		return "", fmt.Errorf("get web URL of an item: decode: %w", err)
	}
	if it.WebURL == "" {
		return "", fmt.Errorf("get web URL of an item: Graph returned no webUrl")
	}
	return it.WebURL, nil
}

// CreateLink asks for a sharing link of linkType ("view", "edit") at
// scope ("anonymous", "organization", "users") to the item at path of
// drive driveID. Graph returns the existing link when the application
// already has one of that type and scope, so the call is safe to retry.
func (c *Client) CreateLink(ctx context.Context, driveID, path, linkType, scope string) (SharingLink, error) {
	body, err := json.Marshal(map[string]string{"type": linkType, "scope": scope})
	if err != nil {
		return SharingLink{}, err
	}
	target := c.pathURL(driveID, path) + "/createLink"
	req, err := http.NewRequestWithContext(withRetrySafe(ctx), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return SharingLink{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return SharingLink{}, fmt.Errorf("create a %s link: %w", scope, err)
	}
	if resp.StatusCode >= 400 {
		return SharingLink{}, fmt.Errorf("create a %s link: %w", scope, decodeError(resp))
	}
	defer resp.Body.Close()
	var p struct {
		ID   string `json:"id"`
		Link struct {
			Type   string `json:"type"`
			Scope  string `json:"scope"`
			WebURL string `json:"webUrl"`
		} `json:"link"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p); err != nil {
		return SharingLink{}, fmt.Errorf("create a %s link: decode: %w", scope, err)
	}
	if p.Link.WebURL == "" {
		return SharingLink{}, fmt.Errorf("create a %s link: Graph returned no link", scope)
	}
	return SharingLink{ID: p.ID, Type: p.Link.Type, Scope: p.Link.Scope, WebURL: p.Link.WebURL, Created: resp.StatusCode == http.StatusCreated}, nil
}
