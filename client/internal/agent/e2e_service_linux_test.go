//go:build linux

package agent

// End-to-end with the real mapdrive-service binary (SQLite, seeded with the
// demo tenant and its Finance mapping) and m365sim: the assigned drive
// mounts on its own after sign-in, and keeps working when the service stops.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/testbin"
)

// startService builds and runs mapdrive-service against sim; it returns
// the base URL, a CA bundle trusting the service and sim, and a stop func.
func startService(t *testing.T, sim *m365sim.Sim) (string, string, *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	var bins testbin.Finder
	t.Cleanup(bins.Close)
	bin, err := bins.Path("mapdrive-service")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	dc := demo.MustLoad()
	if err := dc.Register(t.Context(), bin, "--data-dir", data); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	svc := exec.Command(bin, "serve", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--metrics-listen", "off",
		"--authority", sim.BaseURL(), "--graph-url", sim.GraphURL(), "--authority-ca", sim.CAFile(), "--log-level", "warn")
	svc.Args = append(svc.Args, dc.ServiceFlags()...)
	if testing.Verbose() {
		svc.Stderr = os.Stderr
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Process.Kill(); svc.Wait() })
	base := fmt.Sprintf("https://localhost:%d", port)
	// Trust both the simulator's CA and the service's dev CA.
	bundle := filepath.Join(dir, "ca-bundle.pem")
	deadline := time.Now().Add(60 * time.Second)
	for {
		simCA, _ := os.ReadFile(sim.CAFile())
		svcCA, err := os.ReadFile(filepath.Join(data, "ca.pem"))
		if err == nil {
			os.WriteFile(bundle, append(append(simCA, '\n'), svcCA...), 0o600)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(svcCA)
			hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err := hc.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return base, bundle, svc
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mapdrive-service did not become healthy on %s", base)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestEndToEndWithService(t *testing.T) {
	requireFUSE(t)
	sim := m365sim.StartForTest(t)
	svcURL, bundle, svc := startService(t, sim)

	// The admin sets the tenant's bandwidth, refresh and start-jitter
	// policies through the service's API.
	pol := apitype.Policies{DeltaPollSeconds: 60, DefaultCacheLimitBytes: 1 << 30, OfficeCoauthoring: true,
		UploadBytesPerSecond: 20_000_000, DownloadBytesPerSecond: 35_000_000, RefreshSeconds: 600, StartJitterSeconds: 90}
	putPolicies(t, sim, svcURL, bundle, pol)

	e := startAgent(t, sim, agentSetup{upn: "alice@contoso.com", svcURL: svcURL, bundle: bundle})
	a, p, cfg, c, logs, stop := e.agent, e.p, e.cfg, e.c, &e.logs, e.stop
	defer stop()
	tctx, tcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer tcancel()
	loginAs(t, tctx, e, "alice@contoso.com")
	st := waitStatus(t, c, "Finance mounted from the service's mapping", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.State == apitype.DriveMounted || st.Licence.State == apitype.LicenceRefused
	})
	if st.Licence.State != apitype.LicenceValid {
		t.Fatalf("licence = %+v, want valid", st.Licence)
	}
	// The policies came with the lease: the limits are applied and shown,
	// the refresh follows the tenant's interval, and the jitter is stored
	// for the next start.
	if want := (apitype.Bandwidth{UploadLimit: 20_000_000, DownloadLimit: 35_000_000}); st.Bandwidth.UploadLimit != want.UploadLimit || st.Bandwidth.DownloadLimit != want.DownloadLimit {
		t.Errorf("status bandwidth = %+v, want limits %+v", st.Bandwidth, want)
	}
	eventuallyLog(t, logs, "refresh_interval=10m0s")
	if cached, err := p.Service.Cached(); err != nil || cached.Policies != pol {
		t.Errorf("stored policies = %+v, %v, want %+v", cached.Policies, err, pol)
	}
	fin := driveByName(st, "Finance")
	if fin.Source != apitype.SourceAssigned || fin.Mountpoint != filepath.Join(cfg.MountRoot, "Finance") {
		t.Errorf("Finance = %+v, want assigned at mount_root/Finance", fin)
	}
	q1, err := os.ReadFile(filepath.Join(fin.Mountpoint, "Reports", "Q1.txt"))
	if err != nil || string(q1) != "Q1 revenue: 1,234,567\n" {
		t.Errorf("Reports/Q1.txt through the mount = %q, %v", q1, err)
	}

	// The admin removes the Finance mapping while a change on it waits to
	// upload: the next refresh keeps it mounted and says why; once the
	// upload is done it is unmounted. Assigned again, it comes back.
	if err := c.PauseUploads(tctx); err != nil {
		t.Fatal(err)
	}
	late := filepath.Join(fin.Mountpoint, "Reports", "late.txt")
	if err := os.WriteFile(late, []byte("written before the drive was removed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "the change queued", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.PendingUploads > 0
	})
	var list apitype.AdminMappingList
	adminCall(t, sim, svcURL, bundle, http.MethodGet, apitype.RouteAdminMappings, nil, &list)
	var finMapping apitype.AdminMapping
	for _, m := range list.Mappings {
		if m.DisplayName == "Finance" {
			finMapping = m
		}
	}
	if finMapping.ID == "" {
		t.Fatalf("no Finance mapping in %+v", list)
	}
	adminCall(t, sim, svcURL, bundle, http.MethodDelete, strings.ReplaceAll(apitype.RouteAdminMapping, "{id}", finMapping.ID), nil, nil)
	st, err = c.Refresh(tctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := driveByName(st, "Finance"); d == nil || d.State != apitype.DriveMounted || d.Error == nil || d.Error.Code != apitype.CodeMappingRemoved {
		t.Fatalf("Finance after its mapping was removed, upload pending = %+v, want mounted and flagged %s", d, apitype.CodeMappingRemoved)
	}
	if !mountPresent(fin.Mountpoint) {
		t.Fatal("Finance unmounted with an upload pending")
	}
	if err := c.ResumeUploads(tctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "Finance unmounted after its upload", func(st apitype.Status) bool { return driveByName(st, "Finance") == nil })
	if mountPresent(fin.Mountpoint) {
		t.Fatalf("%s still mounted after the removed drive was retired", fin.Mountpoint)
	}
	got, err := sim.Admin().As("contoso", "alice").Download(tctx, fin.DriveID, "/Reports/late.txt")
	if err != nil || string(got) != "written before the drive was removed\n" {
		t.Fatalf("the change made before the removal on the server = %q, %v", got, err)
	}
	finMapping.ID = ""
	adminCall(t, sim, svcURL, bundle, http.MethodPost, apitype.RouteAdminMappings, finMapping, nil)
	if _, err := c.Refresh(tctx); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, c, "Finance mounted again", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.State == apitype.DriveMounted
	})
	fin = driveByName(st, "Finance")

	// The service goes down: the drive stays, the licence runs on the
	// stored lease.
	svc.Process.Kill()
	svc.Wait()
	a.Refresh()
	st = waitStatus(t, c, "licence from the stored lease", func(st apitype.Status) bool { return st.Licence.State == apitype.LicenceCached })
	if d := driveByName(st, "Finance"); d == nil || d.State != apitype.DriveMounted {
		t.Errorf("Finance after the service stopped = %+v, want still mounted", d)
	}
	if _, err := os.ReadFile(filepath.Join(fin.Mountpoint, "Reports", "Q1.txt")); err != nil {
		t.Errorf("read after the service stopped: %v", err)
	}

	// At SIGTERM libfuse's own handler unmounts the drive before the
	// agent's shutdown gets to it; do the same from outside. The agent's
	// shutdown then finds the mount gone and says so at debug, not as an
	// error.
	if out, err := exec.Command("fusermount", "-u", fin.Mountpoint).CombinedOutput(); err != nil {
		if out2, err2 := exec.Command("umount", fin.Mountpoint).CombinedOutput(); err2 != nil {
			t.Fatalf("unmount from outside: fusermount: %v %s; umount: %v %s", err, out, err2, out2)
		}
	}
	if mountPresent(fin.Mountpoint) {
		t.Fatalf("%s still mounted after fusermount -u", fin.Mountpoint)
	}
	stop()
	if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "already unmounted") {
		t.Errorf("shutdown after an outside unmount: want no ERROR and an \"already unmounted\" note; log:\n%s", out)
	}
}

// putPolicies sets contoso's policies as its admin, through the service's
// admin API.
func putPolicies(t *testing.T, sim *m365sim.Sim, svcURL, caBundle string, pol apitype.Policies) {
	t.Helper()
	adminCall(t, sim, svcURL, caBundle, http.MethodPut, apitype.RouteAdminPolicies, pol, nil)
}

// adminCall calls the service's admin API for contoso as its admin: route
// with {tid} filled in, in JSON-encoded, the answer decoded into out.
func adminCall(t *testing.T, sim *m365sim.Sim, svcURL, caBundle, method, route string, in, out any) {
	t.Helper()
	tok, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "admin", directory.DemoClientID, []string{directory.DemoServiceAppURI + "/" + directory.DemoServiceScope})
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caBundle)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, svcURL+strings.ReplaceAll(route, "{tid}", directory.DemoContosoID), body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s = %s %s", method, route, resp.Status, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("decode the answer of %s %s: %v", method, route, err)
		}
	}
}

// eventuallyLog waits until the agent's log holds want.
func eventuallyLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's log never showed %q", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
