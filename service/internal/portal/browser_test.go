package portal_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mapdrive/mapdrive/service/internal/cli"
	"github.com/mapdrive/mapdrive/service/internal/portal"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// chromiumPath is Debian's Chromium, installed by make deps.
const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where the browser test leaves its screenshots.
var artifactsDir = filepath.Join("..", "..", "..", "artifacts", "portal")

// service is mapdrive-service's serve command running in-process with
// the portal, against m365sim.
type service struct {
	url    string
	client *http.Client // trusts the service's dev CA
	sim    *m365sim.Sim
	data   string             // --data-dir: database, key file, dev certificate
	roots  *x509.CertPool     // the service's dev CA and the simulator's
	logs   *portal.SyncBuffer // serve's log, after the redactor
}

// serviceConfig changes how startServiceWith runs serve.
type serviceConfig struct {
	args   []string          // more serve flags
	portal cli.PortalFactory // default portal.New
}

// startService registers contoso with the operator CLI and runs serve
// with the portal mounted, on a loopback port the simulator's seed lists
// as the portal's redirect URI.
func startService(t *testing.T) *service { return startServiceWith(t, serviceConfig{}) }

func startServiceWith(t *testing.T, cfg serviceConfig) *service {
	t.Helper()
	if cfg.portal == nil {
		cfg.portal = portal.New
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "https://" + addr
	seed := directory.DemoSeed()
	for i := range seed.Apps {
		if seed.Apps[i].ClientID == directory.DemoServiceAppID {
			seed.Apps[i].RedirectURIs = append(seed.Apps[i].RedirectURIs, base+"/portal/auth/callback")
		}
	}
	sim := m365sim.StartForTest(t, m365sim.WithSeed(seed))
	data := t.TempDir()
	secret := filepath.Join(data, "client-secret")
	if err := os.WriteFile(secret, []byte(directory.DemoServiceSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	common := []string{"--data-dir=" + data}
	if code := cli.Main(t.Context(), append([]string{"migrate"}, common...), cli.Options{Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("migrate: %s", out.String())
	}
	if code := cli.Main(t.Context(), append([]string{"tenant", "add", "--id", directory.DemoContosoID, "--name", "Contoso Ltd", "--domain", "contoso.com",
		"--seats", "25", "--expires", time.Now().AddDate(1, 0, 0).Format("2006-01-02")}, common...), cli.Options{Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("tenant add: %s", out.String())
	}
	// serve has no built-in ids: the demo's registrations, named explicitly.
	common = append(common, "--client-id="+directory.DemoServiceAppID, "--audience="+directory.DemoServiceAppID,
		"--audience="+directory.DemoServiceAppURI, "--desktop-client-id="+directory.DemoClientID)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &portal.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		args := append([]string{"serve", "--listen=" + addr, "--metrics-listen=off", "--public-url=" + base, "--authority=" + sim.BaseURL(),
			"--graph-url=" + sim.GraphURL(), "--authority-ca=" + sim.CAFile(), "--client-secret-file=" + secret, "--log-level=debug"}, common...)
		done <- cli.Main(ctx, append(args, cfg.args...), cli.Options{Portal: cfg.portal, Stdout: logs, Stderr: logs})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, logs.String())
		}
		for _, leak := range []string{"admin@contoso.com", "alice@contoso.com", directory.DemoServiceSecret} {
			if strings.Contains(logs.String(), leak) {
				t.Errorf("service log holds %q", leak)
			}
		}
	})
	s := &service{url: base, sim: sim, data: data, logs: logs}
	for i := 0; ; i++ {
		if pem, err := os.ReadFile(filepath.Join(data, "ca.pem")); err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			s.roots = sim.CertPool()
			s.roots.AppendCertsFromPEM(pem)
			if resp, err := s.client.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return s
				}
			}
		}
		if i > 200 {
			t.Fatalf("service not ready: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// validate is user's client validating its licence through the client API.
func (s *service) validate(t *testing.T, user string) apitype.ValidateResponse {
	t.Helper()
	tok, err := s.sim.Entra().MintAccessToken(directory.DemoContosoID, user, directory.DemoClientID, []string{directory.DemoServiceAppURI + "/" + directory.DemoServiceScope})
	if err != nil {
		t.Fatal(err)
	}
	// As this version's client: declaring its features, so that no
	// mapping is withheld (apitype.Mapping.Requires).
	body, _ := json.Marshal(apitype.ValidateRequest{ClientVersion: "0.1.0", OS: "linux", Features: apitype.ClientFeatures()})
	req, _ := http.NewRequest(http.MethodPost, s.url+apitype.RouteServiceValidate, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var vr apitype.ValidateResponse
	err = json.NewDecoder(resp.Body).Decode(&vr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's validate = %d, %v", user, resp.StatusCode, err)
	}
	return vr
}

// newChromium starts headless Chromium with a fresh profile. Without
// Chromium the test fails under CI and skips elsewhere.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: make deps installs Debian's chromium (scripts/deps-apt.sh)", chromiumPath)
		}
		t.Skipf("%s is missing (make deps installs it); the browser test needs it", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The service's dev certificate and the simulator's are issued by
		// test CAs on loopback only.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a full-page screenshot as artifacts/portal/<name>.png and
// checks that it is not blank and that the page's h1 reads heading.
// loaded is a condition for waitJS: the page has loaded, holds sel, and
// no htmx request is under way.
func loaded(sel string) string {
	return `document.readyState === "complete" && document.querySelector('` + sel + `') !== null && document.querySelector(".htmx-request") === null`
}

func shot(t *testing.T, ctx context.Context, name, heading string) {
	t.Helper()
	waitJS(t, ctx, name+" loaded", `document.readyState === "complete" && document.querySelector("h1") !== null`)
	h1, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1").innerText`))
	if err != nil {
		t.Fatalf("%s: h1: %v", name, err)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if strings.TrimSpace(h1) != heading {
		t.Errorf("%s: h1 = %q, want %q", name, h1, heading)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactsDir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("%s: screenshot is not a PNG: %v", name, err)
	}
	if frac := inkFraction(img); frac < 0.01 {
		t.Errorf("%s: screenshot looks blank (%.4f of pixels differ from the background)", name, frac)
	}
}

// inkFraction is the share of pixels that differ from the top-left
// pixel's colour.
func inkFraction(img image.Image) float64 {
	bg := color.RGBAModel.Convert(img.At(img.Bounds().Min.X, img.Bounds().Max.Y-1)).(color.RGBA)
	var ink, all int
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			all++
			if c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA); c != bg {
				ink++
			}
		}
	}
	return float64(ink) / float64(all)
}

// step runs actions with a time limit; on failure it saves a screenshot
// of the page as artifacts/portal/failed-<name>.png and fails the test.
func step(t *testing.T, ctx context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		if buf, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.MkdirAll(artifactsDir, 0o755)
			_ = os.WriteFile(filepath.Join(artifactsDir, "failed-"+strings.ReplaceAll(name, " ", "-")+".png"), buf, 0o644)
		}
		t.Fatalf("%s: %v", name, err)
	}
}

// waitJS waits until the JavaScript condition holds.
func waitJS(t *testing.T, ctx context.Context, name, cond string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second) // CI runs every package at once on 2 cores
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			step(t, ctx, name, chromedp.Func(func(context.Context, *chromedp.Target) error {
				return fmt.Errorf("%s never held (last error %v)", cond, err)
			}))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setJS sets a form control's value in the live document.
func setJS(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false; el.value = %q; return el.value === %q })()`, sel, value, value)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
		t.Fatalf("set %s to %q: %v (element missing or value refused)", sel, value, err)
	}
}

// clickJS clicks an element of the live document.
func clickJS(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false; el.click(); return true })()`, sel)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
		t.Fatalf("click %s: %v (element missing)", sel, err)
	}
}

// pageHas is a waitJS condition: the page is loaded and holds sel.
func pageHas(sel string) string {
	return `document.readyState === "complete" && document.querySelector('` + sel + `') !== null`
}

// signInAs goes through the simulator's sign-in page as upn.
func signInAs(t *testing.T, ctx context.Context, authority, base, upn string) {
	t.Helper()
	step(t, ctx, "open the portal", chromedp.Navigate(base+"/portal/"))
	waitJS(t, ctx, "the portal's sign-in page", `document.readyState === "complete" && document.querySelector("a.button.primary") !== null`)
	clickJS(t, ctx, "a.button.primary")
	waitJS(t, ctx, "the authority's sign-in page", `location.href.startsWith("`+authority+`") && document.readyState === "complete" && document.querySelector('input[name="login"]') !== null`)
	setJS(t, ctx, `input[name="login"]`, upn)
	clickJS(t, ctx, `form p button[type="submit"]`)
	// The portal's layout has main#main; the sign-in page has not.
	waitJS(t, ctx, "back in the portal", `location.href.startsWith("`+base+`/portal/") && document.readyState === "complete" && document.querySelector("#main h1") !== null`)
}

// TestBrowser drives Chromium through the portal against a real service
// and m365sim: the contoso admin signs in, creates the Finance mapping
// for the Finance Team group and sees it listed; alice then receives it
// through the client API. A CSRF-less POST from the page is refused, and
// alice, no admin, is refused the portal. Screenshots of the main pages
// go to artifacts/portal/.
func TestBrowser(t *testing.T) {
	ctx := newChromium(t)
	svc := startService(t)
	financeGroup := strings.ToLower(svc.sim.Directory().Tenant("contoso").Group("Finance Team").ID)

	if err := chromedp.Do(ctx, chromedp.Navigate(svc.url+"/portal/")); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "01-signin", "Mapdrive admin portal")
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "admin@contoso.com")
	shot(t, ctx, "02-mappings-empty", "Drive mappings")
	// Keyboard: the first Tab reaches the skip link, the next ones the
	// sign-out button and the navigation.
	step(t, ctx, "tab", chromedp.KeyEvent("\t"))
	waitJS(t, ctx, "skip link focused", `document.activeElement.className === "skip"`)
	step(t, ctx, "tab", chromedp.KeyEvent("\t\t"))
	waitJS(t, ctx, "navigation reached by keyboard", `document.activeElement.getAttribute("href") === "/portal/mappings"`)

	// The mapping form: libraries through the form's lookup button (no
	// script needed), the group through htmx's live search.
	// Values and clicks go through the live document (chromedp's cached
	// DOM can lag behind a form post's new page); typing goes through real
	// key events, which htmx's search trigger listens to.
	clickJS(t, ctx, `a[href="/portal/mappings/new"]`)
	waitJS(t, ctx, "the form", loaded(`#siteUrl`))
	setJS(t, ctx, "#name", "Finance")
	setJS(t, ctx, "#siteUrl", "https://contoso.sharepoint.com/sites/Finance")
	clickJS(t, ctx, `button[value="lookup"]`)
	waitJS(t, ctx, "libraries looked up", loaded(`#library option[value="Documents"]`))
	setJS(t, ctx, "#library", "Documents")
	// Count CSP violations from here on (htmx swaps included).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.cspViolations = []; document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI)); true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#groupSearch").focus(); true`)); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "type a group name", chromedp.KeyEvent("Fin"))
	// htmx swaps #group-results once typing pauses.
	financeBox := `#group-results input[value^="` + financeGroup + `|"]`
	waitJS(t, ctx, "htmx group results", loaded(financeBox))
	clickJS(t, ctx, financeBox)
	setJS(t, ctx, "#letter", "F")
	setJS(t, ctx, "#mount", "Finance")
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+financeBox+`').checked && document.querySelector("#library").value === "Documents"`)); err != nil || !ok {
		t.Fatalf("the form lost the library or the group before saving: %v", err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations`)); err != nil || len(v) != 0 {
		t.Errorf("CSP violations on the mapping form: %v, %v", v, err)
	}
	shot(t, ctx, "03-mapping-form", "New mapping")
	clickJS(t, ctx, `button.primary[value="save"]`)
	waitJS(t, ctx, "save the mapping", loaded(`.flash`))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table.grid tbody").innerText`))
	if err != nil {
		t.Fatalf("save the mapping: %v", err)
	}
	for _, want := range []string{"Finance", "https://contoso.sharepoint.com/sites/Finance › Documents", "F:", "Finance Team"} {
		if !strings.Contains(rows, want) {
			t.Errorf("mapping list %q lacks %q", rows, want)
		}
	}
	shot(t, ctx, "04-mappings", "Drive mappings")

	for _, pg := range []struct{ path, name, h1 string }{
		{"/portal/policies", "05-policies", "Policies"},
		{"/portal/licence", "06-licence", "Licence"},
		{"/portal/audit", "07-audit", "Audit log"},
		{"/portal/deployment", "08-deployment", "Deploy with Intune"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(svc.url+pg.path)); err != nil {
			t.Fatal(err)
		}
		shot(t, ctx, pg.name, pg.h1)
	}
	cmd, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#install-command").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `SERVICEURL="` + svc.url + `" TENANTID="` + directory.DemoContosoID + `" CLIENTID="` + directory.DemoClientID + `"`; !strings.Contains(cmd, want) {
		t.Errorf("install command %q lacks %q", cmd, want)
	}

	// A POST without the CSRF token, from the signed-in page itself.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/portal/policies", {method: "POST", body: new URLSearchParams({cacheGb: "1", pollSeconds: "60"})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("CSRF-less POST = %d, want 403", status)
	}

	// Alice receives the mapping through the client API.
	vr := svc.validate(t, "alice")
	if len(vr.Mappings) != 1 || vr.Mappings[0].DisplayName != "Finance" || vr.Mappings[0].Target.LibraryName != "Documents" ||
		vr.Mappings[0].DriveLetter != "F" || vr.Mappings[0].Target.SiteURL != "https://contoso.sharepoint.com/sites/Finance" {
		t.Errorf("alice's mappings = %+v", vr.Mappings)
	}
	bobTok, _ := svc.sim.Entra().MintAccessToken(directory.DemoContosoID, "bob", directory.DemoClientID, []string{directory.DemoServiceAppURI + "/" + directory.DemoServiceScope})
	req, _ := http.NewRequest(http.MethodGet, svc.url+apitype.RouteServiceMappings, nil)
	req.Header.Set("Authorization", "Bearer "+bobTok)
	if resp, err := svc.client.Do(req); err == nil {
		var ml apitype.MappingList
		_ = json.NewDecoder(resp.Body).Decode(&ml)
		resp.Body.Close()
		if len(ml.Mappings) != 0 {
			t.Errorf("bob, not in Finance Team, gets %+v", ml.Mappings)
		}
	}

	// Sign out, then alice (no admin role) is refused.
	// Sign-out ends at Entra's "You signed out" page (the portal's sign-in
	// page is not a registered redirect URI of the demo app).
	clickJS(t, ctx, `button.link`)
	waitJS(t, ctx, "the authority's sign-out page", `location.href.startsWith("`+svc.sim.BaseURL()+`") && document.readyState === "complete"`)
	step(t, ctx, "signed out", chromedp.Navigate(svc.url+"/portal/mappings"))
	waitJS(t, ctx, "sign-in page after sign-out", `location.pathname === "/portal/signin" && document.readyState === "complete"`)
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	signInAs(t, ctx, svc.sim.BaseURL(), svc.url, "alice@contoso.com")
	shot(t, ctx, "09-refused", "You need the Mapdrive.Admin role")
	step(t, ctx, "alice opens the mappings", chromedp.Navigate(svc.url+"/portal/mappings"))
	waitJS(t, ctx, "alice sent to sign in", `location.pathname === "/portal/signin" && document.readyState === "complete"`)
	t.Logf("screenshots in %s", artifactsDir)
}
