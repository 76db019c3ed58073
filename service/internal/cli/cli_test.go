package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/service/internal/testenv"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func run(t *testing.T, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	out, errs, code := runSplit(t, ctx, args...)
	return out + errs, code
}

// runStdout is run returning the standard output alone.
func runStdout(t *testing.T, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	out, _, code := runSplit(t, ctx, args...)
	return out, code
}

func runSplit(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(ctx, args, Options{Stdout: &out, Stderr: &errb})
	if code != 0 {
		t.Logf("mapdrive-service %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String(), errb.String(), code
}

// registerDemo registers m365sim's demo tenant with the operator
// commands, as scripts/demo.sh does, and returns their output.
func registerDemo(t *testing.T, common ...string) string {
	t.Helper()
	var all string
	for _, cmd := range demo.MustLoad().RegisterCommands() {
		out, code := run(t, t.Context(), append(cmd, common...)...)
		if code != 0 {
			t.Fatalf("mapdrive-service %s: %s", strings.Join(cmd, " "), out)
		}
		all += out
	}
	return all
}

// TestCommands runs the operator commands against SQLite: register, seed,
// map, rotate keys with re-encryption, back up and verify.
func TestCommands(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	d := "--data-dir=" + data
	if out, code := run(t, ctx, "migrate", d); code != 0 || !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %s", out)
	}
	if out := registerDemo(t, d); !strings.Contains(out, "25 seats") || !strings.Contains(out, `"displayName": "Finance"`) {
		t.Fatalf("registering the demo tenant: %s", out)
	}
	if out, code := run(t, ctx, "tenant", "add", d, "--id", directory.DemoFabrikamID, "--name", "Fabrikam Inc", "--domain", "fabrikam.com", "--seats", "5", "--expires", "2030-01-31"); code != 0 {
		t.Fatalf("tenant add: %s", out)
	}
	if _, code := run(t, ctx, "tenant", "add", d, "--id", directory.DemoFabrikamID, "--domain", "x.com", "--seats", "5"); code == 0 {
		t.Error("tenant add of a registered tenant succeeded")
	}
	if out, code := run(t, ctx, "tenant", "set", d, "--id", directory.DemoFabrikamID, "--seats", "7"); code != 0 || !strings.Contains(out, "7 seats until 2030-01-31") {
		t.Fatalf("tenant set: %s", out)
	}
	out, code := run(t, ctx, "mapping", "add", d, "--tenant", directory.DemoFabrikamID, "--name", "Sales", "--kind", "team", "--team", "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "--everyone")
	if code != 0 || !strings.Contains(out, `"displayName": "Sales"`) {
		t.Fatalf("mapping add: %s", out)
	}
	if out, code := run(t, ctx, "mapping", "add", d, "--tenant", directory.DemoFabrikamID, "--name", "Bad", "--kind", "sharepoint", "--site-url", "ftp://x"); code == 0 {
		t.Errorf("invalid mapping accepted: %s", out)
	}
	// A combined drive (#17 item 1): its libraries as JSON.
	out, code = run(t, ctx, "mapping", "add", d, "--tenant", directory.DemoFabrikamID, "--name", "Company", "--kind", "combined", "--letter", "S",
		"--members", `[{"name":"Sales","target":{"kind":"team","groupId":"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}},{"name":"Mine","target":{"kind":"onedrive"}}]`, "--everyone")
	if code != 0 || !strings.Contains(out, `"kind": "combined"`) || !strings.Contains(out, `"name": "Mine"`) {
		t.Fatalf("mapping add --kind combined: %s", out)
	}
	for _, bad := range []string{"not json", "[]", `[{"name":"a/b","target":{"kind":"onedrive"}}]`} {
		if out, code := run(t, ctx, "mapping", "add", d, "--tenant", directory.DemoFabrikamID, "--name", "Bad", "--kind", "combined", "--members", bad, "--everyone"); code == 0 {
			t.Errorf("combined mapping with --members %s accepted: %s", bad, out)
		}
	}
	out, _ = run(t, ctx, "tenant", "list", d)
	if !strings.Contains(out, directory.DemoContosoID) || !strings.Contains(out, "Fabrikam Inc") {
		t.Errorf("tenant list: %s", out)
	}
	if out, code := run(t, ctx, "keys", "rotate", d, "--reencrypt", "--batch", "1", "--retire-after", "10ms"); code != 0 || strings.Count(out, "data key v2") != 2 || strings.Count(out, "1 old data keys destroyed") != 2 {
		t.Fatalf("keys rotate: %s", out)
	}
	out, code = run(t, ctx, "backup", d)
	if code != 0 || !strings.Contains(out, "backup verified: schema v") || !strings.Contains(out, "2 tenants, 3 mappings") {
		t.Fatalf("backup: %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(data+"-backups", "mapdrive-*.db"))
	if len(files) != 1 {
		t.Fatalf("backups = %v", files)
	}
	if out, code := run(t, ctx, "backup", "verify", d, files[0]); code != 0 || !strings.Contains(out, "backup ok") {
		t.Errorf("backup verify: %s", out)
	}
	if st, _ := os.Stat(filepath.Join(data, "kek.json")); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kek.json mode = %v", st)
	}
	raw, _ := os.ReadFile(filepath.Join(data, "mapdrive.db"))
	wal, _ := os.ReadFile(filepath.Join(data, "mapdrive.db-wal"))
	testenv.AssertAbsent(t, "database", append(raw, wal...), "Fabrikam Inc", "fabrikam.com", "sharepoint.com/sites/Finance", "Contoso Ltd")
	if out, code := run(t, ctx, "tenant", "delete", d, "--id", directory.DemoFabrikamID); code != 0 || !strings.Contains(out, "erased") {
		t.Errorf("tenant delete: %s", out)
	}
	// lease-key: the bare key, or JSON naming its kid.
	out, code = runStdout(t, ctx, "lease-key", d, "--json")
	var lk apitype.LeaseKey
	if code != 0 || json.Unmarshal([]byte(out), &lk) != nil || lk.Alg != "Ed25519" {
		t.Fatalf("lease-key --json: %s", out)
	}
	if pub, err := lease.ParsePublicKey(lk.PublicKey); err != nil || lease.KeyID(pub) != lk.KeyID {
		t.Errorf("lease-key --json = %+v: key %v, kid must be lease.KeyID of the key", lk, err)
	}
	if out, code := runStdout(t, ctx, "lease-key", d); code != 0 || out != lk.PublicKey+"\n" {
		t.Errorf("lease-key = %q (exit %d), want %s alone on a line", out, code, lk.PublicKey)
	}
	// A wrong data directory fails rather than minting a key no lease matches.
	empty := t.TempDir()
	if out, code := runStdout(t, ctx, "lease-key", "--data-dir="+empty); code == 0 || out != "" {
		t.Errorf("lease-key on an empty data directory printed %q (exit %d)", out, code)
	}
	if _, code := run(t, ctx, "nonsense"); code != 2 {
		t.Errorf("unknown command exit = %d", code)
	}
}

// TestServeEndToEnd runs `serve` against a real m365sim: alice validates
// with a token the simulator issued, gets the demo Finance mapping and a
// lease that verifies with the served key; then the server shuts down
// gracefully. Optionally on PostgreSQL.
func TestServeEndToEnd(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			sim := m365sim.StartForTest(t)
			data := t.TempDir()
			common := []string{"--data-dir=" + data, "--db=" + db.Addr, "--allow-local-kek"}
			registerDemo(t, common...)
			// The key an admin gives the MSI as LEASEKEY, read on the host.
			printedKey, code := runStdout(t, t.Context(), append([]string{"lease-key"}, common...)...)
			if code != 0 {
				t.Fatalf("lease-key: %s", printedKey)
			}
			addr, metricsAddr := freeAddr(t), freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			var logs bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- Main(ctx, append([]string{"serve", "--listen=" + addr, "--metrics-listen=" + metricsAddr, "--authority=" + sim.BaseURL(), "--graph-url=" + sim.GraphURL(), "--authority-ca=" + sim.CAFile(), "--log-level=debug"}, append(demo.MustLoad().ServiceFlags(), common...)...),
					Options{Stdout: &logs, Stderr: &logs})
			}()
			defer func() {
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("serve exit %d: %s", code, logs.String())
				}
				if strings.Contains(logs.String(), "alice@") {
					t.Error("service log holds alice's UPN")
				}
			}()
			var client *http.Client
			for i := 0; ; i++ {
				if pem, err := os.ReadFile(filepath.Join(data, "ca.pem")); err == nil {
					pool := x509.NewCertPool()
					pool.AppendCertsFromPEM(pem)
					client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
					if resp, err := client.Get("https://" + addr + "/readyz"); err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							break
						}
					}
				}
				if i > 100 {
					t.Fatalf("service not ready: %s", logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			// serve says at start which token versions and audiences pass.
			want := "accepting access tokens version 1.0 (iss https://sts.windows.net/{tid}/) and 2.0 (iss " + sim.BaseURL() + "/{tid}/v2.0); audiences " +
				directory.DemoServiceAppID + ", " + directory.DemoServiceAppURI
			if !strings.Contains(logs.String(), want) {
				t.Errorf("serve's start-up output lacks %q", want)
			}
			// Started without a client secret, it says group lookup is off.
			if want := "group lookup through Graph is off: no client secret"; !strings.Contains(logs.String(), want) {
				t.Errorf("serve without a secret does not warn %q", want)
			}
			tok, err := sim.Entra().MintAccessToken(directory.DemoContosoID, "alice", directory.DemoClientID, []string{directory.DemoServiceAppURI + "/" + directory.DemoServiceScope})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", "https://"+addr+apitype.RouteServiceValidate, strings.NewReader(`{"clientVersion":"0.1.0"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var vr apitype.ValidateResponse
			json.NewDecoder(resp.Body).Decode(&vr)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(vr.Mappings) != 1 || vr.Mappings[0].DisplayName != "Finance" || vr.Mappings[0].Target.LibraryName != "Documents" {
				t.Fatalf("validate = %d %+v", resp.StatusCode, vr)
			}
			resp, err = client.Get("https://" + addr + apitype.RouteServiceLeaseKey)
			if err != nil {
				t.Fatal(err)
			}
			var lk apitype.LeaseKey
			json.NewDecoder(resp.Body).Decode(&lk)
			resp.Body.Close()
			pub, err := lease.ParsePublicKey(lk.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if printedKey != lk.PublicKey+"\n" {
				t.Errorf("mapdrive-service lease-key printed %q, want the served key %s alone on a line", printedKey, lk.PublicKey)
			}
			if _, err := lease.Verify(pub, vr.Lease, time.Now()); err != nil {
				t.Errorf("lease: %v", err)
			}
			// /metrics is on the private listener only: the public one
			// answers 404, the private one has the validation just made.
			resp, err = client.Get("https://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "mapdrive_validations_total") {
				t.Errorf("public GET /metrics = %d %.200s, want 404", resp.StatusCode, body)
			}
			resp, err = http.Get("http://" + metricsAddr + "/metrics")
			if err != nil {
				t.Fatalf("private metrics listener: %v", err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `mapdrive_validations_total{result="ok"} 1`) {
				t.Errorf("private GET /metrics = %d, want 200 with one ok validation:\n%.2000s", resp.StatusCode, body)
			}
		})
	}
}

// TestMetricsListenDefaultsToLoopback checks the default of
// --metrics-listen without starting a service.
func TestMetricsListenDefaultsToLoopback(t *testing.T) {
	var out bytes.Buffer
	Main(t.Context(), []string{"serve", "--help"}, Options{Stdout: &out, Stderr: &out})
	if !strings.Contains(out.String(), "-metrics-listen") || !strings.Contains(out.String(), `(default "127.0.0.1:9464")`) {
		t.Errorf("serve --help does not show a loopback default for -metrics-listen:\n%s", out.String())
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLocalKEKPlacement checks that a local key file is refused with a
// server database unless --allow-local-kek, only warned about with SQLite,
// and that backups are kept out of the key file's directory.
func TestLocalKEKPlacement(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	d := "--data-dir=" + data
	for _, db := range []string{"postgres://mapdrive@127.0.0.1:1/none", "sqlserver://sa@127.0.0.1:1?database=none"} {
		out, code := run(t, ctx, "migrate", d, "--db="+db)
		if code == 0 || !strings.Contains(out, "--allow-local-kek") || !strings.Contains(out, "azurekv:") {
			t.Errorf("migrate with %s and a local KEK = exit %d %q, want a refusal naming the fix", db, code, out)
		}
		if _, err := os.Stat(filepath.Join(data, "kek.json")); err == nil {
			t.Fatalf("a key file was created before the refusal")
		}
		// With the flag the refusal is gone (the unreachable database fails next).
		if out, _ := run(t, ctx, "migrate", d, "--db="+db, "--allow-local-kek"); strings.Contains(out, "--allow-local-kek") {
			t.Errorf("migrate with --allow-local-kek still refused: %s", out)
		}
		os.Remove(filepath.Join(data, "kek.json"))
	}
	out, code := run(t, ctx, "migrate", d)
	if code != 0 || !strings.Contains(out, "local file beside the SQLite database") {
		t.Errorf("migrate on SQLite = exit %d %q, want success with a warning", code, out)
	}
	for _, dir := range []string{data, filepath.Join(data, "backups")} {
		if out, code := run(t, ctx, "backup", d, "--dir="+dir); code == 0 || !strings.Contains(out, "apart from the key") {
			t.Errorf("backup --dir=%s = exit %d %q, want a refusal", dir, code, out)
		}
	}
	if out, code := run(t, ctx, "backup", d); code != 0 || !strings.Contains(out, data+"-backups") {
		t.Errorf("backup with the default directory = exit %d %q, want it written to %s-backups", code, out, data)
	}
}
