package portal

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/version"
)

type signInView struct {
	Base
	Enabled bool
	Next    string
}

func (*signInView) template() string { return "signin" }

// ---------------------------------------------------------------- onboarding

type onboardingView struct {
	Base
	TenantID   string
	Domain     string
	OrgName    string
	ConsentURL string
	TrialSeats int
	TrialDays  int
	Error      string
}

func (*onboardingView) template() string { return "onboarding" }

func (s *Server) onboardingView(ss *session) *onboardingView {
	// Without the desktop app's id the link would consent to nothing;
	// the page says what the operator must set instead.
	var consent string
	if s.cfg.DesktopClientID != "" {
		consent = s.cfg.AuthorityHost + "/" + ss.TenantID + "/adminconsent?" + url.Values{"client_id": {s.cfg.DesktopClientID},
			"redirect_uri": {s.cfg.PublicURL + Prefix + "/onboarding"}}.Encode()
	}
	return &onboardingView{Base: Base{Title: "Set up Mapdrive for your organisation", Nav: "onboarding"}, TenantID: ss.TenantID,
		Domain: ss.Domain, ConsentURL: consent, TrialSeats: s.cfg.TrialSeats, TrialDays: s.cfg.TrialDays}
}

func (s *Server) onboardingPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	if _, err := s.st.Tenant(r.Context(), ss.TenantID); err == nil {
		return redirectErr(Prefix + "/mappings")
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.render(w, r, ss, http.StatusOK, s.onboardingView(ss))
}

// onboard registers the admin's tenant with a trial licence. The one
// domain registered is the admin's sign-in domain, which Entra verified.
func (s *Server) onboard(w http.ResponseWriter, r *http.Request, ss *session) error {
	if _, err := s.st.Tenant(r.Context(), ss.TenantID); err == nil {
		return redirectErr(Prefix + "/mappings") // another admin was quicker
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	v := s.onboardingView(ss)
	v.OrgName = strings.TrimSpace(r.PostForm.Get("orgName"))
	switch {
	case v.OrgName == "" || len([]rune(v.OrgName)) > 128:
		v.Error = "Enter your organisation's name (at most 128 characters)."
	case r.PostForm.Get("accept") != "on":
		v.Error = "Confirm that you consented for the desktop app and accept the trial terms."
	case v.Domain == "":
		v.Error = "Your sign-in name has no domain, so the organisation cannot be registered. Ask your Mapdrive operator."
	}
	if v.Error != "" {
		return s.render(w, r, ss, http.StatusUnprocessableEntity, v)
	}
	// One trial per organisation, even after it erased itself: the
	// tombstone outlives the tenant's rows (store.RecordTrial).
	if past, err := s.st.PastTrial(r.Context(), ss.TenantID); err == nil {
		v.Error = fmt.Sprintf("Your organisation already had its Mapdrive trial (%s to %s). Contact your Mapdrive operator for a licence.",
			past.StartedAt.Format("2 January 2006"), past.EndsAt.Format("2 January 2006"))
		return s.render(w, r, ss, http.StatusConflict, v)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.cfg.Now()
	ends := now.AddDate(0, 0, s.cfg.TrialDays)
	err := s.st.PutTenant(r.Context(), store.Tenant{ID: ss.TenantID, DisplayName: v.OrgName, Domains: []string{v.Domain},
		Seats: s.cfg.TrialSeats, LicenceExpires: ends, Policies: store.DefaultPolicies()})
	switch {
	case errors.Is(err, store.ErrConflict):
		v.Error = "The domain " + v.Domain + " is already registered to another organisation. Contact your Mapdrive operator."
		return s.render(w, r, ss, http.StatusConflict, v)
	case errors.Is(err, store.ErrInvalid):
		v.Error = "Your organisation could not be registered: " + conflictText(err)
		return s.render(w, r, ss, http.StatusUnprocessableEntity, v)
	case err != nil:
		return err
	}
	if err := s.st.RecordTrial(r.Context(), ss.TenantID, now, ends); err != nil {
		return err
	}
	if err := s.audit(r, ss, "tenant.onboard", ss.TenantID); err != nil {
		return err
	}
	s.flash(r.Context(), ss, fmt.Sprintf("Welcome! Your %d-day trial with %d seats has started. Add your first drive mapping.", s.cfg.TrialDays, s.cfg.TrialSeats))
	return redirectErr(Prefix + "/mappings")
}

// ---------------------------------------------------------------- licence

type licenceView struct {
	Base
	Seats    int
	Used     int
	Free     int
	Expires  string
	DaysLeft int
	Expired  bool
	Usage    []apitype.SeatUsage // for the data table under the chart
	ChartAlt string
}

func (*licenceView) template() string { return "licence" }

// chartDays is how far back the seat chart reaches.
const chartDays = 90

func (s *Server) licencePage(w http.ResponseWriter, r *http.Request, ss *session) error {
	t, err := s.st.Tenant(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	used, err := s.st.SeatsUsed(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	us, err := s.st.SeatUsage(r.Context(), ss.TenantID, chartDays)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	v := &licenceView{Base: Base{Title: "Licence", Nav: "licence"}, Seats: t.Seats, Used: used, Free: max(t.Seats-used, 0),
		Expires: t.LicenceExpires.UTC().Format("2 January 2006"), Expired: !t.LicenceActive(now),
		DaysLeft: int(t.LicenceExpires.Sub(now).Hours() / 24), Usage: us}
	v.ChartAlt = fmt.Sprintf("Seats in use per day over the last %d days, against %d seats bought", chartDays, t.Seats)
	if len(us) > 0 {
		peak := 0
		for _, u := range us {
			peak = max(peak, u.Used)
		}
		v.ChartAlt += fmt.Sprintf("; %d days recorded, peak %d, latest %d.", len(us), peak, us[len(us)-1].Used)
	} else {
		v.ChartAlt += "; no days recorded yet."
	}
	return s.render(w, r, ss, http.StatusOK, v)
}

func (s *Server) licenceChart(w http.ResponseWriter, r *http.Request, ss *session) error {
	t, err := s.st.Tenant(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	us, err := s.st.SeatUsage(r.Context(), ss.TenantID, chartDays)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, no-store")
	_, err = w.Write(seatChart(us, t.Seats, s.cfg.Now(), chartDays))
	return err
}

// ---------------------------------------------------------------- audit

type auditRow struct {
	At         string
	Actor      string
	You        bool
	Action     string
	Target     string
	TargetName string // the mapping's name while it exists
}

type auditView struct {
	Base
	Entries []auditRow
	Actions []string
	Action  string
	Limit   int
	Limits  []int
}

func (*auditView) template() string { return "audit" }

// auditActions are the actions the filter offers.
var auditActions = []string{"mapping.create", "mapping.update", "mapping.delete", "mapping.reorder", "policies.update",
	"tenant.onboard", "tenant.export", "tenant.add", "tenant.set"}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	q := r.URL.Query()
	v := &auditView{Base: Base{Title: "Audit log", Nav: "audit"}, Actions: auditActions, Limit: 100, Limits: []int{50, 100, 500, 1000}}
	if a := q.Get("action"); a != "" {
		for _, k := range auditActions {
			if k == a {
				v.Action = a
			}
		}
		if v.Action == "" {
			return errPage(http.StatusBadRequest, "Unknown action", "There is no audit action %q to filter by.", a)
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return errPage(http.StatusBadRequest, "Bad filter", "Show 1 to 1000 entries.")
		}
		v.Limit = n
	}
	es, err := s.st.AuditLog(r.Context(), ss.TenantID, v.Action, v.Limit)
	if err != nil {
		return err
	}
	me := ss.Actor
	names := map[string]string{}
	if ms, err := s.st.Mappings(r.Context(), ss.TenantID); err == nil {
		for _, m := range ms {
			names[m.ID] = m.DisplayName
		}
	}
	for _, e := range es {
		v.Entries = append(v.Entries, auditRow{At: e.At.UTC().Format("2006-01-02 15:04:05 UTC"), Actor: e.Actor, You: e.Actor == me, Action: e.Action,
			Target: e.Target, TargetName: names[e.Target]})
	}
	return s.render(w, r, ss, http.StatusOK, v)
}

// ---------------------------------------------------------------- policies

type policyForm struct {
	CacheGB       string
	PollSeconds   string
	Coauthoring   bool
	MinVersion    string
	UploadMBps    string // MB/s, MB = 10^6 bytes; empty or 0: no limit
	DownloadMBps  string
	RefreshSecs   string // empty or 0: the client's own interval
	JitterSeconds string // empty or 0: no spread
	LinkScope     string // apitype.LinkScope*; empty: organization
}

// linkScopeChoice is one option of the sharing link policy.
type linkScopeChoice struct{ Value, Label string }

// LinkScopes are the sharing link policy's options, narrowest last.
func (policyForm) LinkScopes() []linkScopeChoice {
	return []linkScopeChoice{
		{apitype.LinkScopeAnonymous, "Anyone with the link, no sign-in needed (anonymous)"},
		{apitype.LinkScopeOrganization, "People in your organization (default)"},
		{apitype.LinkScopeUsers, "Only people the item is already shared with (specific people)"},
		{apitype.LinkScopeNone, "No sharing links (opening in the browser still works)"},
	}
}

type policyErrors struct {
	CacheGB, PollSeconds, MinVersion, UploadMBps, DownloadMBps, RefreshSecs, JitterSeconds, LinkScope string
}

type policiesView struct {
	Base
	F    policyForm
	Errs policyErrors
}

func (*policiesView) template() string { return "policies" }

var versionRE = regexp.MustCompile(`^\d{1,4}\.\d{1,4}\.\d{1,6}$`)

func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	t, err := s.st.Tenant(r.Context(), ss.TenantID)
	if err != nil {
		return err
	}
	p := t.Policies
	v := &policiesView{Base: Base{Title: "Policies", Nav: "policies"}, F: policyForm{CacheGB: strconv.FormatFloat(float64(p.DefaultCacheLimitBytes)/(1<<30), 'f', -1, 64),
		PollSeconds: strconv.Itoa(p.DeltaPollSeconds), Coauthoring: p.OfficeCoauthoring, MinVersion: p.MinClientVersion,
		UploadMBps: formatMBps(p.UploadBytesPerSecond), DownloadMBps: formatMBps(p.DownloadBytesPerSecond),
		RefreshSecs: zeroEmpty(p.RefreshSeconds), JitterSeconds: zeroEmpty(p.StartJitterSeconds), LinkScope: p.SharingLinkScope()}}
	return s.render(w, r, ss, http.StatusOK, v)
}

func (s *Server) savePolicies(w http.ResponseWriter, r *http.Request, ss *session) error {
	pf := r.PostForm
	v := &policiesView{Base: Base{Title: "Policies", Nav: "policies"}, F: policyForm{CacheGB: strings.TrimSpace(pf.Get("cacheGb")),
		PollSeconds: strings.TrimSpace(pf.Get("pollSeconds")), Coauthoring: pf.Get("coauthoring") == "on", MinVersion: strings.TrimSpace(pf.Get("minVersion")),
		UploadMBps: strings.TrimSpace(pf.Get("uploadMBps")), DownloadMBps: strings.TrimSpace(pf.Get("downloadMBps")),
		RefreshSecs: strings.TrimSpace(pf.Get("refreshSeconds")), JitterSeconds: strings.TrimSpace(pf.Get("jitterSeconds")),
		LinkScope: strings.TrimSpace(pf.Get("linkScope"))}}
	var p apitype.Policies
	gb, err := strconv.ParseFloat(v.F.CacheGB, 64)
	if err != nil || gb < 0 || gb > 10000 {
		v.Errs.CacheGB = "A size in GB from 0 to 10000 (0: the client chooses)."
	}
	p.DefaultCacheLimitBytes = int64(gb * (1 << 30))
	if p.DeltaPollSeconds, err = strconv.Atoi(v.F.PollSeconds); err != nil || p.DeltaPollSeconds < 15 || p.DeltaPollSeconds > 86400 {
		v.Errs.PollSeconds = "Whole seconds from 15 to 86400."
	}
	if v.F.MinVersion != "" && !versionRE.MatchString(v.F.MinVersion) {
		v.Errs.MinVersion = "A version such as 0.1.0, or empty for no minimum."
	}
	p.MinClientVersion, p.OfficeCoauthoring = v.F.MinVersion, v.F.Coauthoring
	var msg string
	if p.UploadBytesPerSecond, msg = parseMBps(v.F.UploadMBps, "upload"); msg != "" {
		v.Errs.UploadMBps = msg
	}
	if p.DownloadBytesPerSecond, msg = parseMBps(v.F.DownloadMBps, "download"); msg != "" {
		v.Errs.DownloadMBps = msg
	}
	if p.RefreshSeconds, err = optionalInt(v.F.RefreshSecs); err != nil || (p.RefreshSeconds != 0 && (p.RefreshSeconds < store.MinRefreshSeconds || p.RefreshSeconds > store.MaxRefreshSeconds)) {
		v.Errs.RefreshSecs = fmt.Sprintf("%q is not a refresh interval: enter whole seconds from %d to %d, or leave it empty to keep each client's own (5 minutes).",
			v.F.RefreshSecs, store.MinRefreshSeconds, store.MaxRefreshSeconds)
	}
	if p.StartJitterSeconds, err = optionalInt(v.F.JitterSeconds); err != nil || p.StartJitterSeconds < 0 || p.StartJitterSeconds > store.MaxStartJitter {
		v.Errs.JitterSeconds = fmt.Sprintf("%q is not a start spread: enter whole seconds from 0 to %d (an hour), or leave it empty for none.", v.F.JitterSeconds, store.MaxStartJitter)
	}
	if p.LinkScope = v.F.LinkScope; !store.ValidLinkScope(p.LinkScope) {
		v.Errs.LinkScope = fmt.Sprintf("%q is not a sharing link scope: choose anonymous, organization, users or none.", v.F.LinkScope)
	}
	if v.Errs != (policyErrors{}) {
		return s.render(w, r, ss, http.StatusUnprocessableEntity, v)
	}
	if err := s.st.SetPolicies(r.Context(), ss.TenantID, p); err != nil {
		return err
	}
	if err := s.audit(r, ss, "policies.update", ""); err != nil {
		return err
	}
	s.flash(r.Context(), ss, "Policies saved. Clients pick them up at their next licence check.")
	return redirectErr(Prefix + "/policies")
}

// formatMBps shows a limit in bytes per second as MB/s (10^6 bytes), empty
// for no limit.
func formatMBps(bps int64) string {
	if bps <= 0 {
		return ""
	}
	return strconv.FormatFloat(float64(bps)/1e6, 'f', -1, 64)
}

// parseMBps reads a limit in MB/s; empty or 0 is no limit. On bad input it
// returns a message naming the problem and the fix.
func parseMBps(in, dir string) (int64, string) {
	if in == "" {
		return 0, ""
	}
	f, err := strconv.ParseFloat(in, 64)
	max := float64(store.MaxBytesPerSecond) / 1e6
	if err != nil || f < 0 || f > max || f != f {
		return 0, fmt.Sprintf("%q is not a valid %s limit: enter MB per second (1 MB = 1,000,000 bytes) from 0.1 to %.0f, such as 20 or 2.5, or leave it empty for no limit.", in, dir, max)
	}
	bps := int64(f * 1e6)
	if bps != 0 && bps < 100_000 {
		return 0, fmt.Sprintf("%s MB/s is too slow to open files in time: enter at least 0.1 MB/s, or leave it empty for no limit.", in)
	}
	return bps, ""
}

func optionalInt(in string) (int, error) {
	if in == "" {
		return 0, nil
	}
	return strconv.Atoi(in)
}

func zeroEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ---------------------------------------------------------------- deployment

type deploymentView struct {
	Base
	Version     string
	MSIName     string
	Command     string
	Uninstall   string
	ProductCode string
	DownloadURL string
	ServiceURL  string
	TenantID    string
	ClientID    string
	Authority   string
}

func (*deploymentView) template() string { return "deployment" }

func (s *Server) deploymentPage(w http.ResponseWriter, r *http.Request, ss *session) error {
	ver := version.MSIVersion(s.cfg.ClientVersion)
	v := &deploymentView{Base: Base{Title: "Deploy with Intune", Nav: "deployment"}, Version: ver, MSIName: msiName(s.cfg.ClientVersion),
		ProductCode: "{" + version.ProductCode(ver) + "}", ServiceURL: s.cfg.PublicURL, TenantID: ss.TenantID, ClientID: s.cfg.DesktopClientID,
		Authority: s.cfg.AuthorityHost + "/" + ss.TenantID}
	v.DownloadURL = s.cfg.MSIURL
	if v.DownloadURL == "" {
		v.DownloadURL = Prefix + "/download/" + v.MSIName
	}
	client := v.ClientID
	if client == "" {
		client = "<desktop app client id>"
	}
	v.Command = fmt.Sprintf(`msiexec /i "%s" /qn /norestart SERVICEURL="%s" TENANTID="%s" CLIENTID="%s" AUTHORITY="%s" AUTOSTART=1 /l*v "%%WINDIR%%\Temp\mapdrive-install.log"`,
		v.MSIName, v.ServiceURL, v.TenantID, client, v.Authority)
	v.Uninstall = fmt.Sprintf(`msiexec /x "%s" /qn /norestart`, v.ProductCode)
	return s.render(w, r, ss, http.StatusOK, v)
}

// msiName is the file name scripts/dist.sh gives the MSI of client
// version v.
func msiName(v string) string { return "mapdrive-" + version.MSIVersion(v) + "-x64.msi" }

// download serves the MSI from MSIDir.
func (s *Server) download(w http.ResponseWriter, r *http.Request, ss *session) error {
	name := r.PathValue("name")
	want := msiName(s.cfg.ClientVersion)
	if name != want || s.cfg.MSIDir == "" {
		return errPage(http.StatusNotFound, "Installer not available", "This service does not host the Mapdrive installer %s. Your Mapdrive operator can set --msi-dir or --msi-url (MAPDRIVESVC_MSI_DIR, MAPDRIVESVC_MSI_URL).", want)
	}
	f, err := os.Open(filepath.Join(s.cfg.MSIDir, want))
	if err != nil {
		return errPage(http.StatusNotFound, "Installer not available", "The installer %s is missing on the service.", want)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-msi")
	w.Header().Set("Content-Disposition", `attachment; filename="`+want+`"`)
	http.ServeContent(w, r, want, st.ModTime().Truncate(time.Second), f)
	return nil
}
