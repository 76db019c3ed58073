package agent

// This file answers `mapdrive link`, `mapdrive open-web` and the tray's
// "Copy link" and "Open in browser": it finds which mounted drive a local
// path is in, and asks Graph for the item's web URL or for a sharing link
// at exactly the scope the tenant's policy allows.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Links finds items' web URLs and creates sharing links in Microsoft 365
// (graph.Client, through graphLinks in wire.go). Paths are drive-relative,
// "/" for the root. Errors wrap the sentinels in errors.go, and
// ErrLinkRefused when Microsoft 365 refuses the link.
type Links interface {
	WebURL(ctx context.Context, driveID, path string) (string, error)
	// CreateLink returns the link's URL; Graph returns the existing link
	// of that type and scope when there is one.
	CreateLink(ctx context.Context, driveID, path, linkType, scope string) (string, error)
}

// ErrLinkRefused is Microsoft 365 refusing a sharing link: the tenant's
// SharePoint sharing settings forbid its scope, or the user may not share
// the item.
var ErrLinkRefused = errors.New("Microsoft 365 refused the sharing link")

// linkType is the only kind of link the client asks for: people who open
// it can read, not change, the item.
const linkType = "view"

// linkTarget is an item resolved from a LinkRequest.
type linkTarget struct {
	key     string // the agent's drive key
	driveID string // Graph's drive id
	path    string // drive-relative, "/a/b.txt"
	// remote is path in Graph's drive: under a folder root
	// (RemoteDrive.RootPath), the folder's path comes first.
	remote string
}

// resolveLink finds the drive and the drive-relative path a request names.
func (a *Agent) resolveLink(req apitype.LinkRequest) (linkTarget, *apitype.Error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.Drive != "" {
		key, perr := a.findLocked(req.Drive)
		if perr != nil {
			return linkTarget{}, perr
		}
		return remoteTarget(key, a.st.drives[key].remote, "/"+strings.Trim(filepath.ToSlash(req.Path), "/"))
	}
	if req.Path == "" || !filepath.IsAbs(req.Path) {
		return linkTarget{}, apitype.NewError(apitype.CodeBadRequest, fmt.Sprintf("%q is not an absolute path", req.Path),
			"Give the full path of a file or folder inside a mounted drive.")
	}
	// The deepest mountpoint wins, should one drive be mounted inside
	// another's folder.
	bestKey, bestRel := "", ""
	bestLen := -1
	for k, d := range a.st.drives {
		mp := d.info.Mountpoint
		if d.mount == nil || mp == "" || len(mp) <= bestLen {
			continue
		}
		if rel, ok := insideMount(mp, req.Path); ok {
			bestKey, bestRel, bestLen = k, rel, len(mp)
		}
	}
	if bestLen < 0 {
		return linkTarget{}, apitype.NewError(apitype.CodeNotInDrive, fmt.Sprintf("%s is not inside a mounted Mapdrive drive", req.Path),
			"Give a path inside one of the mountpoints that `mapdrive drives` lists, or mount the drive first with `mapdrive mount`.")
	}
	return remoteTarget(bestKey, a.st.drives[bestKey].remote, bestRel)
}

// remoteTarget finds where drive-relative path rel of drive rd (key) is
// in Graph: below a folder root, the folder's path comes first; in a
// combined drive, the first element names the library, whose drive and
// root hold the rest. A combined drive's top is no item of its own.
func remoteTarget(key string, rd RemoteDrive, rel string) (linkTarget, *apitype.Error) {
	t := linkTarget{key: key, path: rel}
	if rd.Kind == KindCombined {
		top, rest, _ := strings.Cut(strings.TrimPrefix(rel, "/"), "/")
		i := slices.IndexFunc(rd.Members, func(m RemoteMember) bool { return top != "" && strings.EqualFold(m.Name, top) })
		if i < 0 {
			return linkTarget{}, apitype.NewError(apitype.CodeNotFound, fmt.Sprintf("%s is not a library of the combined drive", rel),
				"Give a file or folder inside one of the drive's libraries (its top-level folders).")
		}
		rd, rel = rd.Members[i].Drive, "/"+rest
	}
	t.driveID, t.remote = rd.ID, rd.RootPath+rel
	if rd.RootPath != "" && rel == "/" {
		t.remote = rd.RootPath
	}
	return t, nil
}

// insideMount reports whether p is mountpoint mp or below it, and returns
// its drive-relative path ("/" for mp itself) with forward slashes.
func insideMount(mp, p string) (string, bool) {
	if isDriveLetter(mp) {
		// "X:" mounts: Windows paths are case-insensitive.
		mp = strings.ToUpper(mp[:1]) + ":"
		if len(p) < 2 || !strings.EqualFold(p[:2], mp) {
			return "", false
		}
		return "/" + strings.Trim(strings.ReplaceAll(p[2:], `\`, "/"), "/"), true
	}
	rel, err := filepath.Rel(filepath.Clean(mp), filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if rel == "." {
		return "/", true
	}
	return "/" + filepath.ToSlash(rel), true
}

// links returns the Graph side, or tells the user Mapdrive is not set up.
func (a *Agent) links() (Links, error) {
	if a.o.Links == nil {
		if a.o.Auth == nil {
			return nil, a.notConfigured()
		}
		return nil, apitype.NewError(apitype.CodeNotImplemented, "this agent was started without Microsoft 365 access for links",
			"Restart the agent with `mapdrive agent`.")
	}
	return a.o.Links, nil
}

// WebURL implements localapi.Links: the address that opens the item in
// the browser, for people who can already reach it.
func (a *Agent) WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	l, err := a.links()
	if err != nil {
		return apitype.Link{}, err
	}
	t, perr := a.resolveLink(req)
	if perr != nil {
		return apitype.Link{}, perr
	}
	u, err := l.WebURL(ctx, t.driveID, t.remote)
	if err != nil {
		return apitype.Link{}, linkProblem("find the web address", t.path, err)
	}
	return apitype.Link{Drive: t.key, Path: t.path, WebURL: u}, nil
}

// Link implements localapi.Links: a view link at the tenant's link scope
// policy, never a wider one; none when the policy disables links.
func (a *Agent) Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	l, err := a.links()
	if err != nil {
		return apitype.Link{}, err
	}
	t, perr := a.resolveLink(req)
	if perr != nil {
		return apitype.Link{}, perr
	}
	a.mu.Lock()
	scope := a.st.policies.SharingLinkScope()
	a.mu.Unlock()
	switch scope {
	case apitype.LinkScopeNone:
		return apitype.Link{}, apitype.NewError(apitype.CodeLinksDisabled,
			"your organisation's Mapdrive policy does not allow sharing links (link scope: none)",
			"Open the file in the browser with `mapdrive open-web` and share it from there, or ask your IT administrator to choose a link scope under Policies → Sharing links in the Mapdrive portal.")
	case apitype.LinkScopeOrganization, apitype.LinkScopeUsers, apitype.LinkScopeAnonymous:
	default:
		// A scope this version does not know could be wider than any it
		// does: ask for none rather than guess.
		return apitype.Link{}, apitype.NewError(apitype.CodeLinksDisabled,
			fmt.Sprintf("your organisation's Mapdrive policy names a link scope this version of Mapdrive does not know (%q)", scope),
			"Update Mapdrive, or ask your IT administrator to choose organization, users or anonymous under Policies → Sharing links.")
	}
	web, err := l.WebURL(ctx, t.driveID, t.remote)
	if err != nil {
		return apitype.Link{}, linkProblem("find the web address", t.path, err)
	}
	u, err := l.CreateLink(ctx, t.driveID, t.remote, linkType, scope)
	if err != nil {
		if errors.Is(err, ErrLinkRefused) {
			return apitype.Link{}, apitype.NewError(apitype.CodeLinksDisabled,
				fmt.Sprintf("Microsoft 365 refused a sharing link of scope %q for %s: your organisation's SharePoint sharing settings do not allow it, or you may not share this item", scope, t.path),
				"Ask your IT administrator to allow "+scope+" links in SharePoint's sharing settings, or to narrow the link scope under Policies → Sharing links in the Mapdrive portal; `mapdrive open-web` still opens the file.")
		}
		return apitype.Link{}, linkProblem("create a sharing link", t.path, err)
	}
	a.log.Debug("sharing link created", "drive", t.key, "scope", scope)
	return apitype.Link{Drive: t.key, Path: t.path, WebURL: web, URL: u, Type: linkType, Scope: scope}, nil
}

// linkProblem explains a failed link call; a missing item is most likely
// one not uploaded yet.
func linkProblem(what, path string, err error) *apitype.Error {
	if errors.Is(err, failure.NotFound) {
		return apitype.NewError(apitype.CodeNotFound, fmt.Sprintf("%s is not in Microsoft 365 (yet): it may still be waiting to upload", path),
			"Wait until `mapdrive status` shows no pending uploads for the drive, then try again.")
	}
	return problem(what+" of "+path, err)
}
