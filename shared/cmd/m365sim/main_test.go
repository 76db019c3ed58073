package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/demo"
	"github.com/mapdrive/mapdrive/shared/testbin"
)

// buildBinary finds the prebuilt m365sim (make test builds it first; see
// shared/testbin) or builds it.
func buildBinary(t *testing.T) string {
	t.Helper()
	var bins testbin.Finder
	t.Cleanup(bins.Close)
	bin, err := bins.Path("m365sim")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

const customSeed = `
apps:
  - clientId: 4b0d3b5c-6f2e-4c1a-9d6e-3a2f1e0c7b11
    displayName: Mapdrive
    publicClient: true
    redirectUris: [http://localhost]
tenants:
  - name: tailspin
    domains: [tailspin.com]
    users:
      - userName: tara
        drive: {name: OneDrive, files: [{path: hello.txt, content: "hi\n"}]}
`

func TestRunPrintsURLsAndStopsOnSignal(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		name, seed, tenant string
	}{
		{"demo seed", "demo", "contoso"},
		{"seed file", "file", "tailspin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			seed := tt.seed
			if seed == "file" {
				seed = filepath.Join(t.TempDir(), "seed.yaml")
				if err := os.WriteFile(seed, []byte(customSeed), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data", data, "--seed", seed, "--log-level", "debug")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			exited := false
			defer func() {
				if !exited {
					_ = cmd.Process.Kill()
					<-done
				}
			}()
			lines := make(chan string, 1000) // never blocks the reader
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
				done <- cmd.Wait()
			}()
			var banner []string
			timeout := time.After(time.Minute)
		read:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						exited = true
						<-done
						t.Fatalf("m365sim exited before printing its URLs; stderr:\n%s", stderr.String())
					}
					banner = append(banner, l)
					if strings.Contains(l, "Admin API") {
						break read
					}
				case <-timeout:
					t.Fatalf("no banner after a minute; got %q", banner)
				}
			}
			text := strings.Join(banner, "\n")
			base := strings.TrimPrefix(banner[0], "m365sim listening on ")
			if !strings.HasPrefix(base, "https://127.0.0.1:") {
				t.Fatalf("first line %q does not give the base URL", banner[0])
			}
			for _, want := range []string{base + "/" + tt.tenant, base + "/v1.0", filepath.Join(data, "ca.pem")} {
				if !strings.Contains(text, want) {
					t.Errorf("banner lacks %q:\n%s", want, text)
				}
			}
			caPEM, err := os.ReadFile(filepath.Join(data, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(caPEM)
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			resp, err := c.Get(base + "/" + tt.tenant + "/v2.0/.well-known/openid-configuration")
			if err != nil {
				t.Fatalf("discovery through the CA file: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("discovery = %d, want 200", resp.StatusCode)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				exited = true
				if err != nil {
					t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("m365sim did not stop within 30s of SIGTERM")
			}
		})
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"log level", []string{"--log-level", "loud"}, "--log-level"},
		{"seed file", []string{"--seed", "/nonexistent/seed.yaml"}, "seed"},
		{"address", []string{"--addr", "nohostport"}, "address"},
	}
	for _, tt := range tests {
		args := append([]string{"--data", t.TempDir()}, tt.args...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s: m365sim %v = %v, %q; want a failure mentioning %q", tt.name, args, err, out, tt.want)
		}
	}
}

// TestPrintDemoConfig: scripts/demo.sh sources this output for every id
// it configures the demo with; the production binaries have none built in.
func TestPrintDemoConfig(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "--print-demo-config").Output()
	if err != nil {
		t.Fatalf("m365sim --print-demo-config: %v", err)
	}
	got, err := exec.Command("bash", "-euc", string(out)+`echo "$DEMO_SERVICE_CLIENT_ID $DEMO_DESKTOP_CLIENT_ID $DEMO_SERVICE_SCOPE ${DEMO_REGISTER_MAPPING[0]}"`).CombinedOutput()
	want := demo.MustLoad()
	if err != nil || strings.TrimSpace(string(got)) != want.ServiceClientID+" "+want.DesktopClientID+" "+want.ServiceScope+" mapping" {
		t.Errorf("sourcing the output: %v %q", err, got)
	}
}
