package graph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/sites"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// DriveKind says where a drive comes from.
type DriveKind string

// Drive kinds.
const (
	KindOneDrive   DriveKind = "onedrive"   // the user's own OneDrive
	KindSharePoint DriveKind = "sharepoint" // a document library of a site
	KindTeam       DriveKind = "team"       // the files of a Team (its group's drive)
)

// Drive describes a drive the user can mount.
type Drive struct {
	ID   string
	Name string // display name: "OneDrive", "Finance - Documents", "Marketing"
	Kind DriveKind
	// SiteURL is the site's web URL (SharePoint and Teams drives).
	SiteURL string
	// Library is the document library's name (SharePoint and Teams drives).
	Library string
	// GroupID is the Team's group id (Team drives).
	GroupID string
	// WebURL is the drive's own web URL.
	WebURL string
	// ReadOnly reports whether the drive is known to be read-only; false
	// when Graph does not say (it usually does not: a read-only library
	// shows itself by answering writes with 403 accessDenied).
	ReadOnly bool
	// QuotaTotal and QuotaRemaining are in bytes; zero when not reported.
	QuotaTotal, QuotaRemaining int64
}

// LibraryPath returns the decoded server-relative path of the drive's
// root ("/sites/Finance/Shared Documents"), from its web URL; "" when the
// URL is unknown. SharePoint's 400-character path limit counts it
// (vfs.Options.LibraryPath).
func (d Drive) LibraryPath() string {
	u, err := url.Parse(d.WebURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// MyDrive returns the signed-in user's OneDrive.
func (c *Client) MyDrive(ctx context.Context) (Drive, error) {
	d, err := c.sdk.Me().Drive().Get(ctx, nil)
	if err != nil {
		return Drive{}, fmt.Errorf("get the user's OneDrive: %w", fromSDK(err))
	}
	out := toDrive(d, KindOneDrive, "")
	out.Name = "OneDrive"
	out.Library = ""
	return out, nil
}

// Drives lists what the user can reach: their OneDrive, the files of the
// Teams they joined, and the document libraries of the sites they follow or
// can find by search. Each drive appears once (a Team's drive is also its
// site's "Documents" library; it is listed as the Team's). A source that
// fails (e.g. search not allowed) is skipped and reported in the joined
// error alongside the drives that were found.
func (c *Client) Drives(ctx context.Context) ([]Drive, error) {
	var out []Drive
	var errs []error
	seen := map[string]bool{}
	add := func(d Drive) {
		if d.ID != "" && !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	my, err := c.MyDrive(ctx)
	if err != nil {
		return nil, err // without a OneDrive something is badly wrong (or we are offline)
	}
	add(my)

	teams, err := c.teamDrives(ctx)
	if errors.Is(err, vfs.ErrAccessDenied) {
		// No Team.ReadBasic.All consent: the Teams' libraries still come
		// through their sites below.
		c.log.Debug("cannot list joined Teams", "err", err)
		err = nil
	}
	errs = append(errs, err)
	for _, d := range teams {
		add(d)
	}
	siteList, err := c.sites(ctx)
	errs = append(errs, err)
	for _, s := range siteList {
		libs, err := c.siteLibraries(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range libs {
			add(d)
		}
	}
	return out, errors.Join(errs...)
}

// DriveByID returns the drive with the given id (GET /drives/{id}). Its
// kind is guessed from Graph's driveType: personal and business drives are
// OneDrives, document libraries SharePoint.
func (c *Client) DriveByID(ctx context.Context, id string) (Drive, error) {
	d, err := c.sdk.Drives().ByDriveId(id).Get(ctx, nil)
	if err != nil {
		return Drive{}, fmt.Errorf("get drive %s: %w", id, fromSDK(err))
	}
	kind := KindSharePoint
	if t := deref(d.GetDriveType()); t == "personal" || t == "business" {
		kind = KindOneDrive
	}
	return toDrive(d, kind, ""), nil
}

// TeamDrive returns the files of a Team (or any Microsoft 365 group) by
// the group's id: GET /groups/{id}/drive.
func (c *Client) TeamDrive(ctx context.Context, groupID string) (Drive, error) {
	d, err := c.sdk.Groups().ByGroupId(groupID).Drive().Get(ctx, nil)
	if err != nil {
		return Drive{}, fmt.Errorf("get the files of group %s: %w", groupID, fromSDK(err))
	}
	drv := toDrive(d, KindTeam, "")
	drv.SiteURL = siteOf(drv.WebURL)
	drv.GroupID = groupID
	return drv, nil
}

// teamDrives lists the drives of the Teams the user joined.
func (c *Client) teamDrives(ctx context.Context) ([]Drive, error) {
	var teams []models.Teamable
	err := allPages(
		func() (models.TeamCollectionResponseable, error) { return c.sdk.Me().JoinedTeams().Get(ctx, nil) },
		func(next string) (models.TeamCollectionResponseable, error) {
			return c.sdk.Me().JoinedTeams().WithUrl(next).Get(ctx, nil)
		},
		func(v []models.Teamable) { teams = append(teams, v...) })
	if err != nil {
		return nil, fmt.Errorf("list joined Teams: %w", fromSDK(err))
	}
	var out []Drive
	var errs []error
	for _, t := range teams {
		id := deref(t.GetId())
		d, err := c.sdk.Groups().ByGroupId(id).Drive().Get(ctx, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("get the files of Team %s: %w", id, fromSDK(err)))
			continue
		}
		drv := toDrive(d, KindTeam, "")
		drv.Name = deref(t.GetDisplayName())
		drv.GroupID = id
		drv.SiteURL = siteOf(drv.WebURL)
		out = append(out, drv)
	}
	return out, errors.Join(errs...)
}

// site is what discovery keeps of a SharePoint site.
type site struct{ id, name, webURL string }

// sites lists the sites the user follows and those a search finds.
func (c *Client) sites(ctx context.Context) ([]site, error) {
	var out []site
	seen := map[string]bool{}
	add := func(ss []models.Siteable) {
		for _, s := range ss {
			id := deref(s.GetId())
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			name := deref(s.GetDisplayName())
			if name == "" {
				name = deref(s.GetName())
			}
			out = append(out, site{id: id, name: name, webURL: deref(s.GetWebUrl())})
		}
	}
	var errs []error
	err := allPages(
		func() (models.SiteCollectionResponseable, error) { return c.sdk.Me().FollowedSites().Get(ctx, nil) },
		func(next string) (models.SiteCollectionResponseable, error) {
			return c.sdk.Me().FollowedSites().WithUrl(next).Get(ctx, nil)
		}, add)
	if err != nil {
		errs = append(errs, fmt.Errorf("list followed sites: %w", fromSDK(err)))
	}
	// GET /sites?search=* lists the sites the user can reach. The SDK
	// spells the parameter $search, which /sites does not take, so the
	// URL is given verbatim.
	err = allPages(
		func() (models.SiteCollectionResponseable, error) {
			return c.sdk.Sites().WithUrl(c.base+"/sites?search="+url.QueryEscape("*")).Get(ctx, nil)
		},
		func(next string) (models.SiteCollectionResponseable, error) {
			return c.sdk.Sites().WithUrl(next).Get(ctx, nil)
		}, add)
	if err != nil {
		errs = append(errs, fmt.Errorf("search sites: %w", fromSDK(err)))
	}
	return out, errors.Join(errs...)
}

// siteLibraries lists the document libraries of s.
func (c *Client) siteLibraries(ctx context.Context, s site) ([]Drive, error) {
	var ds []models.Driveable
	err := allPages(
		func() (models.DriveCollectionResponseable, error) {
			return c.sdk.Sites().BySiteId(s.id).Drives().Get(ctx, nil)
		},
		func(next string) (models.DriveCollectionResponseable, error) {
			return c.sdk.Sites().BySiteId(s.id).Drives().WithUrl(next).Get(ctx, nil)
		},
		func(v []models.Driveable) { ds = append(ds, v...) })
	if err != nil {
		return nil, fmt.Errorf("list libraries of site %s: %w", s.id, fromSDK(err))
	}
	var out []Drive
	for _, d := range ds {
		if t := deref(d.GetDriveType()); t != "" && t != "documentLibrary" {
			continue
		}
		drv := toDrive(d, KindSharePoint, s.webURL)
		drv.Name = s.name + " - " + drv.Library
		out = append(out, drv)
	}
	return out, nil
}

// DriveByURL resolves a document library given by its site's URL
// (https://contoso.sharepoint.com/sites/Finance) and library name (the
// site's default library when empty): GET /sites/{host}:/{path}, then
// /sites/{id}/drive or the site's drives matched by name.
func (c *Client) DriveByURL(ctx context.Context, siteURL, library string) (Drive, error) {
	u, err := url.Parse(siteURL)
	if err != nil || u.Host == "" {
		return Drive{}, fmt.Errorf("resolve site URL %q: not an absolute URL", siteURL)
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	raw := c.base + "/sites/" + u.Host
	if path != "" {
		raw += ":" + path + ":"
	}
	s, err := c.sdk.Sites().BySiteId("root").WithUrl(raw).Get(ctx, &sites.SiteItemRequestBuilderGetRequestConfiguration{})
	if err != nil {
		return Drive{}, fmt.Errorf("resolve site %s: %w", siteURL, fromSDK(err))
	}
	name := deref(s.GetDisplayName())
	if name == "" {
		name = deref(s.GetName())
	}
	if library == "" {
		// The default library, whatever its localized name ("Documents",
		// "Dokumente", "Documentos partagés"): GET /sites/{id}/drive.
		d, err := c.sdk.Sites().BySiteId(deref(s.GetId())).Drive().Get(ctx, nil)
		if err != nil {
			return Drive{}, fmt.Errorf("get the default library of site %s: %w", siteURL, fromSDK(err))
		}
		drv := toDrive(d, KindSharePoint, deref(s.GetWebUrl()))
		drv.Name = name + " - " + drv.Library
		return drv, nil
	}
	libs, err := c.siteLibraries(ctx, site{id: deref(s.GetId()), name: name, webURL: deref(s.GetWebUrl())})
	if err != nil {
		return Drive{}, err
	}
	for _, d := range libs {
		if strings.EqualFold(d.Library, library) || strings.EqualFold(lastSegment(d.WebURL), library) {
			return d, nil
		}
	}
	return Drive{}, fmt.Errorf("site %s has no library %q: %w", siteURL, library, vfs.ErrNotFound)
}

func toDrive(d models.Driveable, kind DriveKind, siteURL string) Drive {
	out := Drive{
		ID:      deref(d.GetId()),
		Name:    deref(d.GetName()),
		Kind:    kind,
		SiteURL: siteURL,
		Library: deref(d.GetName()),
		WebURL:  deref(d.GetWebUrl()),
	}
	if out.SiteURL == "" && kind != KindOneDrive {
		out.SiteURL = siteOf(out.WebURL)
	}
	if q := d.GetQuota(); q != nil {
		if v := q.GetTotal(); v != nil {
			out.QuotaTotal = *v
		}
		if v := q.GetRemaining(); v != nil {
			out.QuotaRemaining = *v
		}
	}
	return out
}

// siteOf guesses a site URL from a library URL by dropping the last segment.
func siteOf(webURL string) string {
	if i := strings.LastIndex(strings.TrimRight(webURL, "/"), "/"); i > len("https://") {
		return webURL[:i]
	}
	return ""
}

func lastSegment(u string) string {
	u = strings.TrimRight(u, "/")
	s := u[strings.LastIndex(u, "/")+1:]
	if un, err := url.PathUnescape(s); err == nil {
		return un
	}
	return s
}

// collectionPage is a page of a Graph collection as the SDK returns it.
type collectionPage[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// allPages gets the first page of a collection and then every
// @odata.nextLink after it, verbatim, handing each page's values to add.
// Any collection may page, followed sites and site search included.
func allPages[T any, P collectionPage[T]](first func() (P, error), next func(link string) (P, error), add func([]T)) error {
	p, err := first()
	for pages := 1; ; pages++ {
		if err != nil {
			return err
		}
		add(p.GetValue())
		link := deref(p.GetOdataNextLink())
		if link == "" {
			return nil
		}
		if pages >= maxPages {
			return fmt.Errorf("more than %d pages", maxPages)
		}
		p, err = next(link)
	}
}

// maxPages bounds a collection walk, so a server that links a page to
// itself cannot hold discovery forever.
const maxPages = 10_000
