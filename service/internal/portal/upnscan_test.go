package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/cli"
	"github.com/mapdrive/mapdrive/service/internal/portal"
	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/version"
)

// upns are every user the test signs in or serves: contoso's admin, two
// of its users, and fabrikam's first admin, who onboards.
var upns = []string{"admin@contoso.com", "alice@contoso.com", "bob@contoso.com", "fiona@fabrikam.com"}

// routeLog records, for each portal route, the statuses it answered:
// the test's proof that it drove every route the portal serves.
type routeLog struct {
	mu     sync.Mutex
	routes []portal.Route
	served map[string][]int // "METHOD pattern" → statuses
}

func (l *routeLog) record(key string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served[key] = append(l.served[key], status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// recordingPortal is portal.New with two test hooks: the portal's log
// also goes, before the redactor, to raw; and every request is recorded
// under the portal route it matched.
func recordingPortal(raw *portal.SyncBuffer, rl *routeLog) cli.PortalFactory {
	return func(ctx context.Context, d portal.Deps) (http.Handler, error) {
		d.Log = slog.New(slog.NewMultiHandler(d.Log.Handler(),
			slog.NewJSONHandler(raw, &slog.HandlerOptions{Level: slog.LevelDebug}).WithAttrs([]slog.Attr{slog.String("component", "portal")})))
		h, err := portal.New(ctx, d)
		if err != nil {
			return nil, err
		}
		srv, ok := h.(*portal.Server)
		if !ok {
			return nil, fmt.Errorf("portal.New returned a %T, not a *portal.Server", h)
		}
		rl.routes = srv.Routes()
		match := http.NewServeMux()
		for _, rt := range rl.routes {
			match.Handle(rt.Method+" "+portal.Prefix+rt.Pattern, http.NotFoundHandler())
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, pattern := match.Handler(r)
			sw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(sw, r)
			if pattern != "" {
				rl.record(pattern, sw.status)
			}
		}), nil
	}
}

const financeSite = "https://contoso.sharepoint.com/sites/Finance"

var editLinkRE = regexp.MustCompile(`/portal/mappings/([0-9a-f-]+)/edit`)

// TestNoUPNAfterEveryPortalAction runs the real service (serve, with its
// data folder) and drives every route the portal serves through the HTTP
// form flow: the admin's sign-in, every mapping action, the pages, the
// policies, the download, the sign-out, a non-admin's refused sign-in and
// another tenant's onboarding. After the sign-in and after each action it
// scans every file of the service's data folder (the SQLite database with
// its WAL and SHM, the key file, the dev certificate) and of its backup
// folder, and the portal's log before and after the redactor, for every
// UPN the service has seen, in every encoding testenv knows. A route
// added to the portal without a step here fails the test.
func TestNoUPNAfterEveryPortalAction(t *testing.T) {
	msiDir := t.TempDir()
	// The service under test is unstamped: it offers the MSI of version.Version.
	msiName := "mapdrive-" + version.MSIVersion(version.Version) + "-x64.msi"
	if err := os.WriteFile(filepath.Join(msiDir, msiName), []byte("not really an MSI"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := &portal.SyncBuffer{}
	rl := &routeLog{served: map[string][]int{}}
	svc := startServiceWith(t, serviceConfig{args: []string{"--msi-dir=" + msiDir}, portal: recordingPortal(raw, rl)})
	backups := filepath.Clean(svc.data) + "-backups"
	var cliOut bytes.Buffer
	financeGroup := strings.ToLower(svc.sim.Directory().Tenant("contoso").Group("Finance Team").ID)

	scans := 0
	// scan backs the database up as an operator would (mapdrive-service
	// backup, into its default folder) and looks for every UPN in the
	// data and backup folders and the logs.
	scan := func(after string) {
		t.Helper()
		scans++
		if code := cli.Main(t.Context(), []string{"backup", "--data-dir=" + svc.data, "--verify=false"}, cli.Options{Stdout: &cliOut, Stderr: &cliOut}); code != 0 {
			t.Fatalf("backup after %s: %s", after, cliOut.String())
		}
		files := testenv.AssertDirAbsent(t, "data folder after "+after, []string{svc.data, backups}, upns...)
		// The scan must see the data: the database and its key file are
		// among the files, and the newest backup holds the tables.
		for _, want := range []string{"mapdrive.db", "kek.json", "ca.pem"} {
			if !slices.Contains(files, filepath.Join(filepath.Base(svc.data), want)) {
				t.Errorf("after %s the scan did not read %s (read %v)", after, want, files)
			}
		}
		if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, filepath.Base(backups)+string(filepath.Separator)) }) {
			t.Errorf("after %s the scan read no backup (read %v)", after, files)
		}
		testenv.AssertAbsent(t, "portal log before the redactor, after "+after, []byte(raw.String()), upns...)
		testenv.AssertAbsent(t, "service log after "+after, []byte(svc.logs.String()), upns...)
		testenv.AssertAbsent(t, "backup command's output after "+after, cliOut.Bytes(), upns...)
	}

	// alice and bob use the service, so their seats are in the database
	// before the portal shows the licence.
	for _, user := range []string{"alice", "bob"} {
		svc.validate(t, user)
	}
	scan("alice's and bob's validations")

	b := portal.NewBrowser(t, svc.url, svc.roots)
	want := func(p portal.Page, status int, needles ...string) {
		t.Helper()
		if p.Status() != status {
			t.Fatalf("%s = %d, want %d: %s", p.URL(), p.Status(), status, p.Body())
		}
		p.MustContain(t, needles...)
	}
	want(b.Get("/portal/", false), http.StatusSeeOther)
	want(b.Get("/portal/signin", false), http.StatusOK, "Sign in")
	scan("the sign-in page")
	want(b.SignIn("admin@contoso.com"), http.StatusOK, "<h1>Drive mappings</h1>")
	scan("the admin's sign-in")
	want(b.Get("/portal/", false), http.StatusSeeOther)
	want(b.Get("/portal/mappings/new", false), http.StatusOK, "New mapping")
	want(b.Get("/portal/libraries?siteUrl="+url.QueryEscape(financeSite), false), http.StatusOK, `<option value="Documents"`)
	want(b.Get("/portal/groups?groupSearch=fin", false), http.StatusOK, financeGroup)
	scan("the mapping form's lookups")

	mapping := func(name, letter string) url.Values {
		return url.Values{"csrf": {b.CSRF()}, "op": {"save"}, "name": {name}, "kind": {"sharepoint"}, "siteUrl": {financeSite},
			"library": {"Documents"}, "letter": {letter}, "mount": {name}, "pin": {"allowed"}, "group": {financeGroup + "|Finance Team"}}
	}
	want(b.Post("/portal/mappings/new", mapping("Finance", "F"), false), http.StatusSeeOther)
	want(b.Post("/portal/mappings/new", mapping("Archive", "W"), false), http.StatusSeeOther)
	scan("creating two mappings")
	p := b.Get("/portal/mappings", false)
	want(p, http.StatusOK, "Finance", "Archive")
	var ids []string
	for _, m := range editLinkRE.FindAllStringSubmatch(p.Body(), -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	if len(ids) != 2 {
		t.Fatalf("mapping ids on the list: %v", ids)
	}
	want(b.Get("/portal/mappings/"+ids[1]+"/edit", false), http.StatusOK, `value="Archive"`)
	edit := mapping("Archive renamed", "R")
	edit.Set("readOnly", "on")
	want(b.Post("/portal/mappings/"+ids[1]+"/edit", edit, false), http.StatusSeeOther)
	scan("editing a mapping")
	want(b.Post("/portal/mappings/"+ids[1]+"/move", url.Values{"csrf": {b.CSRF()}, "dir": {"up"}}, false), http.StatusSeeOther)
	scan("moving a mapping")
	want(b.Post("/portal/mappings/"+ids[0]+"/delete", url.Values{"csrf": {b.CSRF()}}, true), http.StatusOK, "Deleted mapping")
	scan("deleting a mapping")

	want(b.Get("/portal/licence", false), http.StatusOK, "<h1>Licence</h1>")
	want(b.Get("/portal/licence/chart.svg", false), http.StatusOK, "<svg")
	want(b.Get("/portal/audit", false), http.StatusOK, "mapping.delete")
	want(b.Get("/portal/deployment", false), http.StatusOK, msiName)
	want(b.Get("/portal/download/"+msiName, false), http.StatusOK, "not really an MSI")
	scan("reading the licence, audit and deployment pages")
	want(b.Get("/portal/policies", false), http.StatusOK, "<h1>Policies</h1>")
	want(b.Post("/portal/policies", url.Values{"csrf": {b.CSRF()}, "cacheGb": {"5"}, "pollSeconds": {"120"}, "linkScope": {"organization"}}, true),
		http.StatusOK, "Policies saved")
	scan("saving the policies")
	want(b.Post("/portal/auth/signout", url.Values{"csrf": {b.CSRF()}}, false), http.StatusSeeOther)
	scan("the admin's sign-out")

	// alice, who is no admin, is refused; so is bob.
	for _, upn := range []string{"alice@contoso.com", "bob@contoso.com"} {
		want(portal.NewBrowser(t, svc.url, svc.roots).SignIn(upn), http.StatusForbidden, "You need the Mapdrive.Admin role")
		scan(upn + "'s refused sign-in")
	}

	// fabrikam's first admin onboards her organisation.
	f := portal.NewBrowser(t, svc.url, svc.roots)
	want(f.SignIn("fiona@fabrikam.com"), http.StatusOK, "Set up Mapdrive for your organisation")
	want(f.Get("/portal/onboarding", false), http.StatusOK, "Set up Mapdrive for your organisation")
	scan("fabrikam's admin's sign-in")
	want(f.Post("/portal/onboarding", url.Values{"csrf": {f.CSRF()}, "orgName": {"Fabrikam Inc"}, "accept": {"on"}}, true),
		http.StatusOK, "30-day trial")
	scan("onboarding fabrikam")

	// Every route the portal serves was driven, and answered without an
	// error at least once.
	if len(rl.routes) == 0 {
		t.Fatal("the portal listed no routes")
	}
	for _, rt := range rl.routes {
		key := rt.Method + " " + portal.Prefix + rt.Pattern
		if !slices.ContainsFunc(rl.served[key], func(s int) bool { return s < 400 }) {
			t.Errorf("portal route %s was not exercised successfully (statuses %v): add a step for it to this test", key, rl.served[key])
		}
	}
	// The raw log is the portal's own: it logged the refused sign-ins.
	testenv.MustContain(t, "portal log before the redactor", []byte(raw.String()), `"msg":"portal sign-in refused: no admin role"`)
	t.Logf("%d scans of the data folder, backups and logs for %d UPNs; %d portal routes driven", scans, len(upns), len(rl.routes))
}
