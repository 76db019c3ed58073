package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// mappingRow is one line of the mappings table.
type mappingRow struct {
	ID          string
	Name        string
	Target      string
	Letter      string
	Mount       string
	ReadOnly    bool
	Exclusive   bool
	Pin         string
	Cache       string
	Groups      string
	First, Last bool
}

type mappingsView struct {
	Base
	Rows []mappingRow
}

func (*mappingsView) template() string { return "mappings" }

// audit records an admin action under the admin's pseudonym; a failed
// audit write fails the action's answer.
func (s *Server) audit(r *http.Request, ss *session, action, target string) error {
	return s.st.Audit(r.Context(), ss.TenantID, ss.Actor, action, target)
}

// flash leaves a one-shot notice for the session's next page. The notice
// is a courtesy: the action it reports is done, so a failure to store it
// is logged, not shown.
func (s *Server) flash(ctx context.Context, ss *session, msg string) {
	if err := s.st.SetPortalSessionFlash(ctx, ss.ID, msg); err != nil {
		s.log.WarnContext(ctx, "portal: store the notice", "tenant", ss.TenantID, "err", err)
	}
}

// groupNames maps the tenant's group ids to names; without Graph the ids
// stand for themselves.
func (s *Server) groupNameMap(r *http.Request, ss *session) map[string]string {
	tok, err := s.graphAccess(r.Context(), ss)
	if err != nil {
		return nil
	}
	m, err := s.graph.groupNames(r.Context(), tok)
	if err != nil {
		s.log.WarnContext(r.Context(), "portal: group names", "tenant", ss.TenantID, "err", err)
		return nil
	}
	return m
}

func describeTarget(t apitype.Target) string {
	switch t.Kind {
	case apitype.TargetSharePoint:
		return t.SiteURL + " › " + t.LibraryName + folderText(t.FolderPath)
	case apitype.TargetOneDrive:
		return "The user's own OneDrive" + folderText(t.FolderPath)
	case apitype.TargetTeam:
		return "Team " + t.GroupID + folderText(t.FolderPath)
	case apitype.TargetDriveID:
		return "Drive " + t.DriveID + folderText(t.FolderPath)
	case apitype.TargetCombined:
		names := make([]string, len(t.Members))
		for i, m := range t.Members {
			names[i] = m.Name
		}
		return fmt.Sprintf("Combined drive of %d libraries: %s", len(names), strings.Join(names, ", "))
	}
	return string(t.Kind)
}

// editableKind reports whether the form edits target t: a SharePoint
// library, OneDrive, or a combined drive of those. Anything else is kept
// as it is on save: a Team or a drive id, and a OneDrive with a folder
// (the form has no folder for a OneDrive), all set through the API, so
// that saving a rename does not drop what the form cannot show.
func editableKind(t apitype.Target) bool {
	plain := func(t apitype.Target) bool {
		return t.Kind == apitype.TargetSharePoint || (t.Kind == apitype.TargetOneDrive && t.FolderPath == "")
	}
	switch t.Kind {
	case apitype.TargetSharePoint, apitype.TargetOneDrive:
		return plain(t)
	case apitype.TargetCombined:
		return !slices.ContainsFunc(t.Members, func(m apitype.CombinedMember) bool { return !plain(m.Target) })
	}
	return false
}

// folderText shows a target's folder after its library: " › Reports › 2026".
func folderText(folder string) string {
	if folder == "" {
		return ""
	}
	return " › " + strings.ReplaceAll(strings.Trim(folder, "/"), "/", " › ")
}

func formatBytes(n int64) string {
	switch {
	case n == 0:
		return "tenant default"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	default:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
}

func (s *Server) mappingsPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	ms, err := s.st.Mappings(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	names := s.groupNameMap(r, ss)
	v := &mappingsView{Base: Base{Title: "Drive mappings", Nav: "mappings"}}
	for i, m := range ms {
		row := mappingRow{ID: m.ID, Name: m.DisplayName, Target: describeTarget(m.Target), Letter: m.DriveLetter, Mount: m.MountName,
			ReadOnly: m.ReadOnly, Exclusive: m.ExclusiveEditing, Pin: string(m.OfflinePin), Cache: formatBytes(m.CacheLimitBytes), First: i == 0, Last: i == len(ms)-1}
		var gs []string
		if m.Everyone {
			gs = append(gs, "Everyone")
		}
		for _, g := range m.Groups {
			if n, ok := names[g]; ok {
				gs = append(gs, n)
			} else {
				gs = append(gs, g)
			}
		}
		row.Groups = strings.Join(gs, ", ")
		if row.Groups == "" {
			row.Groups = "Nobody yet"
		}
		v.Rows = append(v.Rows, row)
	}
	return s.render(w, r, ss, http.StatusOK, v)
}

// mappingForm is the mapping editor's fields as submitted.
type mappingForm struct {
	ID          string
	Name        string
	Kind        string // "sharepoint", "onedrive" or "combined"; other kinds are kept as they are
	Fixed       string // description of a target the form cannot edit (team, driveId)
	SiteURL     string
	Library     string
	Folder      string  // a folder inside the library, "Reports/2026"; empty for all of it
	Members     string  // a combined drive's libraries, one a line (membersText)
	Groups      []group // assigned
	Everyone    bool
	Letter      string
	Mount       string
	ReadOnly    bool
	Exclusive   bool // check files out while they are edited
	Pin         string
	CacheGB     string
	GroupSearch string
}

// formErrors are the inline errors of the mapping form, by field.
type formErrors struct {
	General, Name, SiteURL, Library, Folder, Members, Letter, Mount, Cache, Groups string
}

func (e formErrors) any() bool { return e != formErrors{} }

type librariesView struct {
	Base
	Libraries []library
	Selected  string
	Error     string
}

func (*librariesView) template() string { return "libraries" }

type groupsView struct {
	Base
	Results []group
	Query   string
	Error   string
}

func (*groupsView) template() string { return "groups" }

type mappingFormView struct {
	Base
	Action  string // form action URL
	Edit    bool
	F       mappingForm
	Errs    formErrors
	Lib     librariesView
	Search  groupsView
	Letters []string
	Pins    []string
}

func (*mappingFormView) template() string { return "mapping_form" }

func newFormView(title string, f mappingForm, action string) *mappingFormView {
	v := &mappingFormView{Base: Base{Title: title, Nav: "mappings"}, F: f, Action: action, Edit: f.ID != "",
		Pins: []string{string(apitype.PinAllowed), string(apitype.PinNone), string(apitype.PinAll)}}
	for c := 'D'; c <= 'Z'; c++ {
		v.Letters = append(v.Letters, string(c))
	}
	v.Lib.Selected = f.Library
	v.Search.Query = f.GroupSearch
	return v
}

func (s *Server) newMappingPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	f := mappingForm{Kind: string(apitype.TargetSharePoint), Pin: string(apitype.PinAllowed)}
	return s.render(w, r, ss, http.StatusOK, newFormView("New mapping", f, Prefix+"/mappings/new"))
}

func (s *Server) editMappingPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	m, err := s.st.Mapping(r.Context(), ss.TenantID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errPage(http.StatusNotFound, "Mapping not found", "This mapping does not exist in your organisation. It may have been deleted.")
	} else if err != nil {
		return err
	}
	f := mappingForm{ID: m.ID, Name: m.DisplayName, Kind: string(m.Target.Kind), SiteURL: m.Target.SiteURL, Library: m.Target.LibraryName,
		Folder: m.Target.FolderPath, Members: membersText(m.Target.Members),
		Everyone: m.Everyone, Letter: m.DriveLetter, Mount: m.MountName, ReadOnly: m.ReadOnly, Exclusive: m.ExclusiveEditing,
		Pin: string(m.OfflinePin)}
	if m.CacheLimitBytes > 0 {
		f.CacheGB = strconv.FormatFloat(float64(m.CacheLimitBytes)/(1<<30), 'f', -1, 64)
	}
	if !editableKind(m.Target) {
		f.Fixed = describeTarget(m.Target)
	}
	names := s.groupNameMap(r, ss)
	for _, g := range m.Groups {
		n := names[g]
		if n == "" {
			n = g
		}
		f.Groups = append(f.Groups, group{ID: g, DisplayName: n})
	}
	v := newFormView("Edit mapping", f, Prefix+"/mappings/"+m.ID+"/edit")
	if f.Kind == string(apitype.TargetSharePoint) {
		if tok, err := s.graphAccess(r.Context(), ss); err == nil {
			v.Lib.Libraries, _ = s.graph.siteLibraries(r.Context(), tok, f.SiteURL)
		}
	}
	return s.render(w, r, ss, http.StatusOK, v)
}

// readForm reads the submitted mapping form. Group ids come with their
// names as "id|name" so the form can show them again without Graph.
func readForm(r *http.Request) mappingForm {
	p := r.PostForm
	f := mappingForm{ID: r.PathValue("id"), Name: strings.TrimSpace(p.Get("name")), Kind: p.Get("kind"), SiteURL: strings.TrimSpace(p.Get("siteUrl")),
		Library: p.Get("library"), Folder: strings.TrimSpace(p.Get("folder")), Members: p.Get("members"), Everyone: p.Get("everyone") == "on", Letter: p.Get("letter"), Mount: strings.TrimSpace(p.Get("mount")),
		ReadOnly: p.Get("readOnly") == "on", Exclusive: p.Get("exclusive") == "on", Pin: p.Get("pin"), CacheGB: strings.TrimSpace(p.Get("cacheGb")), GroupSearch: strings.TrimSpace(p.Get("groupSearch"))}
	seen := map[string]bool{}
	for _, v := range p["group"] {
		id, name, _ := strings.Cut(v, "|")
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if name == "" {
			name = id
		}
		f.Groups = append(f.Groups, group{ID: id, DisplayName: name})
	}
	return f
}

// saveMapping handles the mapping form: its "lookup" and "search"
// buttons re-render it with libraries or group results (what htmx does
// in place when script runs); "save" validates and stores.
func (s *Server) saveMapping(w http.ResponseWriter, r *http.Request, ss *session) error {
	f := readForm(r)
	title, action := "New mapping", Prefix+"/mappings/new"
	var cur *store.Mapping
	if f.ID != "" {
		m, err := s.st.Mapping(r.Context(), ss.TenantID, f.ID)
		if errors.Is(err, store.ErrNotFound) {
			return errPage(http.StatusNotFound, "Mapping not found", "This mapping does not exist in your organisation. It may have been deleted.")
		} else if err != nil {
			return err
		}
		cur = &m
		title, action = "Edit mapping", Prefix+"/mappings/"+f.ID+"/edit"
		if !editableKind(m.Target) {
			f.Kind, f.Fixed = string(m.Target.Kind), describeTarget(m.Target)
		}
	}
	v := newFormView(title, f, action)
	op := r.PostForm.Get("op")
	tok, terr := s.graphAccess(r.Context(), ss)
	if f.Kind == string(apitype.TargetSharePoint) && f.SiteURL != "" {
		if terr != nil {
			v.Errs.SiteURL = errSiteUnreachable.Error()
		} else if libs, err := s.graph.siteLibraries(r.Context(), tok, f.SiteURL); errors.Is(err, errSiteNotFound) && s.splitFolderURL(r, tok, &f, v) {
			// An address copied from a library or folder view: split into
			// site, library and folder, shown in their fields.
		} else if err != nil {
			v.Errs.SiteURL = inlineError(err)
			if !errors.Is(err, errSiteURL) && !errors.Is(err, errSiteNotFound) {
				s.log.WarnContext(r.Context(), "portal: site lookup", "tenant", ss.TenantID, "err", err)
			}
		} else {
			v.Lib.Libraries = libs
		}
	}
	switch op {
	case "lookup":
		if f.SiteURL == "" {
			v.Errs.SiteURL = "Enter the site's address first."
		}
		return s.render(w, r, ss, http.StatusOK, v)
	case "search":
		if terr != nil {
			v.Search.Error = "Groups cannot be searched right now: sign out and in again."
		} else if gs, err := s.graph.searchGroups(r.Context(), tok, f.GroupSearch); err != nil {
			s.log.WarnContext(r.Context(), "portal: group search", "tenant", ss.TenantID, "err", err)
			v.Search.Error = "Groups cannot be searched right now. Try again."
		} else {
			v.Search.Results = gs
			if len(gs) == 0 {
				v.Search.Error = "No group name has a word starting with “" + f.GroupSearch + "”."
			}
		}
		return s.render(w, r, ss, http.StatusOK, v)
	case "save":
	default:
		return errPage(http.StatusBadRequest, "Bad request", "Unknown form action.")
	}
	m, errs := s.validateForm(r, ss, f, v.Lib.Libraries, v.Errs)
	if cur != nil {
		m.ID = cur.ID
		if f.Fixed != "" {
			m.Target = cur.Target
		}
	}
	if !errs.any() {
		var err error
		if cur == nil {
			m, err = s.st.CreateMapping(r.Context(), ss.TenantID, m)
		} else {
			m, err = s.st.UpdateMapping(r.Context(), ss.TenantID, m)
		}
		switch {
		case errors.Is(err, store.ErrConflict):
			if strings.Contains(err.Error(), "drive letter") {
				errs.Letter = conflictText(err)
			} else {
				errs.Mount = conflictText(err)
			}
		case errors.Is(err, store.ErrInvalid):
			errs.General = conflictText(err)
		case errors.Is(err, store.ErrNotFound):
			return errPage(http.StatusNotFound, "Mapping not found", "This mapping does not exist in your organisation. It may have been deleted.")
		case err != nil:
			return err
		}
	}
	if errs.any() {
		v.Errs = errs
		if errs.General == "" {
			errs.General = "The mapping was not saved: correct the fields marked below."
			v.Errs.General = errs.General
		}
		return s.render(w, r, ss, http.StatusUnprocessableEntity, v)
	}
	act := "mapping.create"
	if cur != nil {
		act = "mapping.update"
	}
	if err := s.audit(r, ss, act, m.ID); err != nil {
		return err
	}
	s.flash(r.Context(), ss, fmt.Sprintf("Saved mapping “%s”.", m.DisplayName))
	return redirectErr(Prefix + "/mappings")
}

// splitFolderURL fills the form's site, library and folder from an address
// pasted from a library or folder view (graphClient.splitFolderURL), and
// reports whether it was one. A library or folder the admin chose already
// is kept.
func (s *Server) splitFolderURL(r *http.Request, tok string, f *mappingForm, v *mappingFormView) bool {
	site, libs, lib, folder, ok := s.graph.splitFolderURL(r.Context(), tok, f.SiteURL)
	if !ok {
		return false
	}
	f.SiteURL = site
	if f.Library == "" {
		f.Library = lib.Name
	}
	if f.Folder == "" {
		f.Folder = strings.TrimPrefix(folder, "/")
	}
	v.F, v.Lib.Selected, v.Lib.Libraries = *f, f.Library, libs
	return true
}

// conflictText is the store's message without the operation before it
// and the sentinel after it: "drive letter F is used by "Finance"".
func conflictText(err error) string {
	msg := err.Error()
	if m := storePrefix.FindStringIndex(msg); m != nil {
		msg = msg[m[1]:]
	}
	msg = strings.TrimSuffix(msg, ": "+store.ErrConflict.Error())
	msg = strings.TrimSuffix(msg, ": "+store.ErrInvalid.Error())
	if msg == "" {
		return "The mapping could not be saved."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

var storePrefix = regexp.MustCompile(`^(create mapping|update mapping \S+): `)

func inlineError(err error) string {
	for _, e := range []error{errSiteURL, errSiteNotFound, errSiteUnreachable} {
		if errors.Is(err, e) {
			s := e.Error()
			return strings.ToUpper(s[:1]) + s[1:] + "."
		}
	}
	return "The site could not be checked."
}

// validateFolder checks the form's folder, when it names one, through
// Graph as the admin: it must be a folder of the chosen library. It
// returns the folder's path as the target stores it, and an inline error.
func (s *Server) validateFolder(r *http.Request, ss *session, f mappingForm, libs []library) (string, string) {
	folder, ok := apitype.CleanFolderPath(f.Folder)
	switch {
	case !ok:
		return "", "Give the folder's path from the library's top, such as Reports/2026, without . or .. in it."
	case folder == "":
		return "", ""
	case len(folder) > 400:
		return "", "A path of at most 400 characters."
	}
	i := slices.IndexFunc(libs, func(l library) bool { return l.Name == f.Library })
	tok, err := s.graphAccess(r.Context(), ss)
	if err == nil {
		err = s.graph.checkFolder(r.Context(), tok, libs[i].ID, folder)
	}
	shown := strings.TrimPrefix(folder, "/")
	switch {
	case errors.Is(err, errFolderNotFound):
		return folder, fmt.Sprintf("No folder “%s” in the library “%s”, or you cannot see it: check the path (from the library's top, such as Reports/2026), or create the folder first.", shown, f.Library)
	case errors.Is(err, errFolderIsFile):
		return folder, fmt.Sprintf("“%s” is a file, not a folder: give the path of the folder that should be the drive's top.", shown)
	case err != nil:
		s.log.WarnContext(r.Context(), "portal: folder lookup", "tenant", ss.TenantID, "err", err)
		return folder, "The folder could not be checked through Microsoft Graph right now: try again."
	}
	return folder, ""
}

// validateForm turns the form into a mapping, with inline errors.
func (s *Server) validateForm(r *http.Request, ss *session, f mappingForm, libs []library, errs formErrors) (store.Mapping, formErrors) {
	m := store.Mapping{Mapping: apitype.Mapping{DisplayName: f.Name, DriveLetter: f.Letter, MountName: f.Mount, ReadOnly: f.ReadOnly,
		OfflinePin: apitype.OfflinePin(f.Pin), ExclusiveEditing: f.Exclusive}, Everyone: f.Everyone}
	if f.Name == "" {
		errs.Name = "Give the mapping a name, as users will see it."
	} else if len([]rune(f.Name)) > 128 {
		errs.Name = "At most 128 characters."
	}
	kind := apitype.TargetKind(f.Kind)
	if f.Fixed != "" {
		kind = "" // a target the form cannot edit: the caller keeps it
	}
	switch kind {
	case apitype.TargetOneDrive:
		m.Target = apitype.Target{Kind: apitype.TargetOneDrive}
		errs.SiteURL = ""
	case apitype.TargetSharePoint:
		norm, _, _, err := parseSiteURL(f.SiteURL)
		switch {
		case f.SiteURL == "":
			errs.SiteURL = "Enter the address of the SharePoint site."
		case err != nil:
			errs.SiteURL = inlineError(err)
		case errs.SiteURL == "" && !slices.ContainsFunc(libs, func(l library) bool { return l.Name == f.Library }):
			errs.Library = "Choose one of the site's libraries."
		}
		m.Target = apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: norm, LibraryName: f.Library}
		if errs.SiteURL == "" && errs.Library == "" {
			m.Target.FolderPath, errs.Folder = s.validateFolder(r, ss, f, libs)
		}
	case apitype.TargetCombined:
		errs.SiteURL = ""
		m.Target = apitype.Target{Kind: apitype.TargetCombined}
		m.Target.Members, errs.Members = s.validateMembers(r, ss, f.Members)
	default:
		if f.Fixed == "" {
			errs.General = "Choose what to map: a SharePoint library, the user's OneDrive, or several libraries as one drive."
		}
	}
	if f.Letter != "" && (len(f.Letter) != 1 || f.Letter[0] < 'D' || f.Letter[0] > 'Z') {
		errs.Letter = "Choose a letter from D to Z."
	}
	if f.Letter == "" && f.Mount == "" {
		errs.Letter = "Give a drive letter (Windows) or a mount name (macOS, Linux), or both."
	}
	if f.Mount != "" && (strings.ContainsAny(f.Mount, `/\:*?"<>|`) || f.Mount == "." || f.Mount == ".." || len(f.Mount) > 64) {
		errs.Mount = "A plain folder name of at most 64 characters, without / \\ : * ? \" < > |."
	}
	switch apitype.OfflinePin(f.Pin) {
	case apitype.PinNone, apitype.PinAllowed, apitype.PinAll:
	default:
		errs.General = "Choose an offline policy."
	}
	if f.CacheGB != "" {
		gb, err := strconv.ParseFloat(f.CacheGB, 64)
		if err != nil || gb < 0 || gb > 10000 {
			errs.Cache = "A size in GB from 0 to 10000, or empty for the tenant default."
		} else {
			m.CacheLimitBytes = int64(gb * (1 << 30))
		}
	}
	for _, g := range f.Groups {
		m.Groups = append(m.Groups, g.ID)
	}
	if len(m.Groups) == 0 && !m.Everyone {
		errs.Groups = "Assign the mapping to at least one group, or to everyone."
	}
	// Duplicate letters and names are checked here for an inline message;
	// the store checks them again inside its transaction.
	if errs.Letter == "" || errs.Mount == "" {
		if ms, err := s.st.Mappings(r.Context(), ss.TenantID); err == nil {
			for _, o := range ms {
				if o.ID == f.ID {
					continue
				}
				if errs.Letter == "" && f.Letter != "" && o.DriveLetter == f.Letter {
					errs.Letter = fmt.Sprintf("Drive letter %s: is already used by “%s”.", f.Letter, o.DisplayName)
				}
				if errs.Mount == "" && f.Mount != "" && strings.EqualFold(o.MountName, f.Mount) {
					errs.Mount = fmt.Sprintf("Mount name “%s” is already used by “%s”.", f.Mount, o.DisplayName)
				}
			}
		}
	}
	return m, errs
}

func (s *Server) deleteMapping(w http.ResponseWriter, r *http.Request, ss *session) error {
	id := r.PathValue("id")
	m, err := s.st.Mapping(r.Context(), ss.TenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errPage(http.StatusNotFound, "Mapping not found", "This mapping does not exist in your organisation. It may have been deleted.")
	} else if err != nil {
		return err
	}
	if err := s.st.DeleteMapping(r.Context(), ss.TenantID, id); err != nil {
		return err
	}
	if err := s.audit(r, ss, "mapping.delete", id); err != nil {
		return err
	}
	s.flash(r.Context(), ss, fmt.Sprintf("Deleted mapping “%s”.", m.DisplayName))
	return redirectErr(Prefix + "/mappings")
}

// moveMapping moves a mapping one place up or down.
func (s *Server) moveMapping(w http.ResponseWriter, r *http.Request, ss *session) error {
	id := r.PathValue("id")
	ms, err := s.st.Mappings(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	ids := make([]string, len(ms))
	at := -1
	for i, m := range ms {
		ids[i] = m.ID
		if m.ID == id {
			at = i
		}
	}
	if at < 0 {
		return errPage(http.StatusNotFound, "Mapping not found", "This mapping does not exist in your organisation. It may have been deleted.")
	}
	to := at - 1
	if r.PostForm.Get("dir") == "down" {
		to = at + 1
	}
	if to < 0 || to >= len(ids) {
		return redirectErr(Prefix + "/mappings")
	}
	ids[at], ids[to] = ids[to], ids[at]
	if err := s.st.ReorderMappings(r.Context(), ss.TenantID, ids); err != nil {
		return err
	}
	if err := s.audit(r, ss, "mapping.reorder", id); err != nil {
		return err
	}
	return redirectErr(Prefix + "/mappings")
}

// librariesFragment serves the library picker for htmx.
func (s *Server) librariesFragment(w http.ResponseWriter, r *http.Request, ss *session) error {
	v := &librariesView{Selected: r.URL.Query().Get("library")}
	tok, err := s.graphAccess(r.Context(), ss)
	if err != nil {
		return err
	}
	if libs, err := s.graph.siteLibraries(r.Context(), tok, r.URL.Query().Get("siteUrl")); err != nil {
		v.Error = inlineError(err)
	} else {
		v.Libraries = libs
	}
	return s.render(w, r, ss, http.StatusOK, v)
}

// groupsFragment serves group search results for htmx.
func (s *Server) groupsFragment(w http.ResponseWriter, r *http.Request, ss *session) error {
	q := strings.TrimSpace(r.URL.Query().Get("groupSearch"))
	v := &groupsView{Query: q}
	tok, err := s.graphAccess(r.Context(), ss)
	if err != nil {
		return err
	}
	if gs, err := s.graph.searchGroups(r.Context(), tok, q); err != nil {
		s.log.WarnContext(r.Context(), "portal: group search", "tenant", ss.TenantID, "err", err)
		v.Error = "Groups cannot be searched right now. Try again."
	} else {
		v.Results = gs
		if len(gs) == 0 && q != "" {
			v.Error = "No group name has a word starting with “" + q + "”."
		}
	}
	return s.render(w, r, ss, http.StatusOK, v)
}
