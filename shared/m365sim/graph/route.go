package graph

import (
	"net/http"
	"strings"
)

// serveGraph routes an authenticated /v1.0 request.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, c *call) error {
	p := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if len(p) > 1 && strings.HasSuffix(p, "/") && !strings.Contains(p, ":") {
		p = strings.TrimSuffix(p, "/")
	}
	switch p {
	case "/$batch":
		return s.serveBatch(w, r, c)
	case "/me":
		return s.serveMe(w, r, c)
	case "/me/drives":
		return s.serveMyDrives(w, r, c)
	case "/me/memberOf":
		return s.serveMemberOf(w, r, c, false)
	case "/me/transitiveMemberOf":
		return s.serveMemberOf(w, r, c, true)
	case "/me/checkMemberGroups":
		return s.serveCheckMemberGroups(w, r, c)
	case "/me/followedSites":
		return s.serveFollowedSites(w, r, c)
	case "/me/joinedTeams":
		return s.serveJoinedTeams(w, r, c)
	case "/sites":
		return s.serveSiteSearch(w, r, c)
	case "/groups":
		return s.serveGroups(w, r, c)
	}
	if rest, ok := cutSegment(p, "/me/drive"); ok {
		if c.user.Drive == nil {
			return errorf(http.StatusNotFound, "itemNotFound", "The user's OneDrive is not provisioned.")
		}
		return s.serveDrive(w, r, c, c.user.Drive.ID, rest)
	}
	if rest, ok := strings.CutPrefix(p, "/drives/"); ok {
		id, rest := splitFirst(rest)
		return s.serveDrive(w, r, c, id, rest)
	}
	if rest, ok := strings.CutPrefix(p, "/users/"); ok {
		uid, rest := splitFirst(rest)
		u := c.tenant.User(uid)
		if u == nil {
			return errorf(http.StatusNotFound, "itemNotFound", "The user could not be found.")
		}
		if u.ID != c.user.ID {
			return errDenied()
		}
		switch {
		case rest == "":
			return s.serveMe(w, r, c)
		case rest == "/drives":
			return s.serveMyDrives(w, r, c)
		}
		if dr, ok := cutSegment(rest, "/drive"); ok {
			if u.Drive == nil {
				return errorf(http.StatusNotFound, "itemNotFound", "The user's OneDrive is not provisioned.")
			}
			return s.serveDrive(w, r, c, u.Drive.ID, dr)
		}
	}
	if rest, ok := strings.CutPrefix(p, "/groups/"); ok {
		return s.serveGroup(w, r, c, rest)
	}
	if rest, ok := strings.CutPrefix(p, "/sites/"); ok {
		return s.serveSite(w, r, c, rest)
	}
	return errInvalid("Resource not found for the segment.")
}

// cutSegment reports whether p is prefix or continues it with "/", and
// returns what follows.
func cutSegment(p, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

// splitFirst splits "id/rest" into "id" and "/rest".
func splitFirst(p string) (string, string) {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func methodNotAllowed() error {
	return errorf(http.StatusMethodNotAllowed, "notSupported", "The HTTP method is not supported on this resource.")
}

// serveDrive serves a drive and everything below it.
func (s *Server) serveDrive(w http.ResponseWriter, r *http.Request, c *call, driveID, rest string) error {
	d, err := s.openDrive(c, driveID)
	if err != nil {
		return err
	}
	if rest == "" {
		if r.Method != http.MethodGet {
			return methodNotAllowed()
		}
		return s.serveDriveInfo(w, r, c, d)
	}
	a, err := parseItemAddr(rest)
	if err != nil {
		return err
	}
	switch a.action {
	case "":
		switch r.Method {
		case http.MethodGet:
			return s.getItem(w, r, c, d, a)
		case http.MethodPatch:
			return s.patchItem(w, r, c, d, a)
		case http.MethodDelete:
			return s.deleteItem(w, r, c, d, a)
		case http.MethodPut:
			return s.explicitCommit(w, r, c, d, a)
		}
	case "children":
		switch r.Method {
		case http.MethodGet:
			return s.listChildren(w, r, c, d, a)
		case http.MethodPost:
			return s.createChild(w, r, c, d, a)
		}
	case "content":
		switch r.Method {
		case http.MethodGet:
			return s.getContent(w, r, c, d, a)
		case http.MethodPut:
			return s.putContent(w, r, c, d, a)
		}
	case "createUploadSession":
		if r.Method == http.MethodPost {
			return s.createUploadSession(w, r, c, d, a)
		}
	case "copy":
		if r.Method == http.MethodPost {
			return s.copyItem(w, r, c, d, a)
		}
	case "checkout":
		if r.Method == http.MethodPost {
			return s.checkOut(w, r, c, d, a)
		}
	case "checkin":
		if r.Method == http.MethodPost {
			return s.checkIn(w, r, c, d, a)
		}
	case "createLink":
		if r.Method == http.MethodPost {
			return s.createLink(w, r, c, d, a)
		}
	case "delta":
		if r.Method == http.MethodGet {
			return s.delta(w, r, c, d, a)
		}
	}
	return methodNotAllowed()
}
