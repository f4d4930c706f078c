//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// emuUserinfo asks the emulator who the token belongs to.
func emuUserinfo(t *testing.T, c *http.Client, e *Emulator) string {
	t.Helper()
	req, _ := http.NewRequest("GET", e.Endpoint+"/oauth2/v2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	var info struct{ Email string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("userinfo: HTTP %d, %v", resp.StatusCode, err)
	}
	return info.Email
}

func TestEmulatorPrintsEnvironment(t *testing.T) {
	e := startEmulator(t)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`).MatchString(e.Endpoint) {
		t.Fatalf("IAPTERM_ENDPOINT=%q", e.Endpoint)
	}
	if e.Token == "" || e.CAFile != "" {
		t.Fatalf("token %q, CA file %q", e.Token, e.CAFile)
	}
	if got := emuUserinfo(t, http.DefaultClient, e); got != "demo@example.com" {
		t.Fatalf("the printed token belongs to %q", got)
	}
	// The relay is on the same address and insists on WebSockets.
	resp, err := http.Get(e.Endpoint + "/v4/connect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET on the relay: HTTP %d", resp.StatusCode)
	}
}

func TestEmulatorTLS(t *testing.T) {
	e := startEmulator(t, "--tls")
	if !strings.HasPrefix(e.Endpoint, "https://127.0.0.1:") || e.CAFile == "" {
		t.Fatalf("endpoint %q, CA file %q", e.Endpoint, e.CAFile)
	}
	pemData, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("IAPTERM_CA_FILE holds no certificate")
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if got := emuUserinfo(t, trusting, e); got != "demo@example.com" {
		t.Fatalf("userinfo over HTTPS: %q", got)
	}
	if _, err := http.Get(e.Endpoint + "/oauth2/v2/userinfo"); err == nil {
		t.Fatal("the generated certificate is trusted without the CA file")
	}
	// localhost is in the certificate too.
	local := strings.Replace(e.Endpoint, "127.0.0.1", "localhost", 1)
	resp, err := trusting.Get(local + "/v4/connect")
	if err != nil {
		t.Fatalf("https://localhost: %v", err)
	}
	resp.Body.Close()
	// A client iapterm command works against it with the printed lines.
	cmd := exec.Command(iaptermBin, "instances", "list", "--project", "acme-dev")
	cmd.Env = e.Env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev-alice") {
		t.Fatalf("iapterm instances list over TLS: %v\n%s", err, out)
	}
}

// emuRunFail runs `iapterm emulator ARGS` expecting it to fail quickly,
// and returns its stderr.
func emuRunFail(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, iaptermBin, append([]string{"emulator"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("iapterm emulator %v kept running", args)
	}
	if err == nil {
		t.Fatalf("iapterm emulator %v succeeded", args)
	}
	if stdout.Len() != 0 {
		t.Fatalf("a failed start printed to stdout: %q", stdout.String())
	}
	return stderr.String()
}

func TestEmulatorBadWorldAndFlags(t *testing.T) {
	dir := t.TempDir()
	broken := writeTestFile(t, dir, "broken.yaml", "users:\n  - email: a@example.com\nprojects:\n  - id: p1\n    instances:\n      - name: vm\n        zone: us-east1-b\n        status: SLEEPING\n")
	if msg := emuRunFail(t, "--world", broken); !strings.Contains(msg, broken+":8:") || !strings.Contains(msg, `unknown status "SLEEPING"`) {
		t.Fatalf("broken world:\n%s", msg)
	}
	syntax := writeTestFile(t, dir, "syntax.json", "{\n  \"users\": [\n}\n")
	if msg := emuRunFail(t, "--world", syntax); !strings.Contains(msg, syntax+":3:") || !strings.Contains(msg, "invalid JSON") {
		t.Fatalf("JSON syntax error:\n%s", msg)
	}
	if msg := emuRunFail(t, "--world", filepath.Join(dir, "missing.yaml")); !strings.Contains(msg, "missing.yaml") {
		t.Fatalf("missing world:\n%s", msg)
	}
	if msg := emuRunFail(t, "--backend", "acme-dev/us-east1-b/dev-alice:22"); !strings.Contains(msg, "PROJECT/ZONE/INSTANCE:PORT=HOST:PORT") {
		t.Fatalf("bad --backend:\n%s", msg)
	}
	if msg := emuRunFail(t, "--backend", "acme-dev/us-east1-b/ghost:22=127.0.0.1:22"); !strings.Contains(msg, "ghost") {
		t.Fatalf("--backend for a missing VM:\n%s", msg)
	}
	if msg := emuRunFail(t, "--inject-close", "42"); !strings.Contains(msg, "--inject-close") {
		t.Fatalf("bad --inject-close:\n%s", msg)
	}
}

func TestEmulatorStopsOnSignal(t *testing.T) {
	cmd := exec.Command(iaptermBin, "emulator")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the emulator ignored SIGINT")
	}
}
