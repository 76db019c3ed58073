package graph

// This file serves driveItem: createLink
// (https://learn.microsoft.com/graph/api/driveitem-createlink):
//
//	POST /drives/{d}/items/{i}/createLink {"type","scope"}
//
// answers a permission resource, 201 Created for a new link and 200 OK when
// a link of that type and scope already exists for the calling
// application. Links are kept in the store's meta bucket, keyed by item,
// application, type and scope, so they survive a restart like the files.

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// Link types and scopes of createLink.
var (
	linkTypes  = map[string]bool{"view": true, "edit": true, "embed": true}
	linkScopes = map[string]bool{"anonymous": true, "organization": true, "users": true}
)

// sharingLink is a stored link.
type sharingLink struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// permission is the permission resource createLink answers.
type permission struct {
	ID    string   `json:"id"`
	Roles []string `json:"roles"`
	Link  struct {
		Type        string `json:"type"`
		Scope       string `json:"scope"`
		WebURL      string `json:"webUrl"`
		Application *struct {
			ID string `json:"id"`
		} `json:"application,omitempty"`
	} `json:"link"`
	HasPassword bool `json:"hasPassword"`
}

// createLink creates, or returns the existing, sharing link of an item.
func (s *Server) createLink(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	// Files.ReadWrite is the least privileged permission; a member who
	// may only read the library may not share from it either.
	if err := d.checkWrite(c); err != nil {
		return err
	}
	var body struct {
		Type  string `json:"type"`
		Scope string `json:"scope"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if !linkTypes[body.Type] {
		return errInvalid("The sharing link type must be view, edit or embed.")
	}
	if body.Type == "embed" {
		// "Embed links are only supported for OneDrive personal"; every
		// simulated drive is OneDrive for Business or SharePoint.
		return errInvalid("Embed links are only supported for OneDrive personal.")
	}
	if body.Scope == "" {
		// "If the scope parameter is not specified, the default link type
		// for the organization is created."
		body.Scope = "organization"
	}
	if !linkScopes[body.Scope] {
		return errInvalid("The sharing link scope must be anonymous, organization or users.")
	}
	if body.Scope == "anonymous" && !c.tenant.AnonymousLinks() {
		// The page says only that anonymous links "may be disabled by an
		// administrator"; SharePoint refuses them as access denied.
		return errorf(http.StatusForbidden, "accessDenied", "Anonymous sharing links are disabled by your organization's sharing policy.")
	}
	var (
		link    sharingLink
		created bool
	)
	err := s.updateExisting(d, a, func(tx *store.Tx, _ *target, it *store.Item) error {
		key := "link\x00" + it.ID + "\x00" + c.app + "\x00" + body.Type + "\x00" + body.Scope
		if v := tx.Meta(key); v != nil {
			return json.Unmarshal(v, &link)
		}
		kind := "u" // SharePoint's link paths say what they open: :f: a folder, :u: a file
		if it.Folder {
			kind = "f"
		}
		link = sharingLink{ID: store.NewGUID(), URL: "https://" + c.tenant.SharePointHost + "/:" + kind + ":/g/" + store.NewToken(16)}
		created = true
		v, err := json.Marshal(link)
		if err != nil {
			return err
		}
		return tx.PutMeta(key, v)
	})
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		return err
	}
	p := permission{ID: link.ID, Roles: []string{"read"}}
	if body.Type == "edit" {
		p.Roles = []string{"write"}
	}
	p.Link.Type, p.Link.Scope, p.Link.WebURL = body.Type, body.Scope, link.URL
	if c.app != "" {
		p.Link.Application = &struct {
			ID string `json:"id"`
		}{c.app}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeValue(w, status, p)
}
