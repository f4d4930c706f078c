//go:build e2e

// Package e2e runs iapterm as a user would: the real binary, the emulator as a
// separate process, and real programs (OpenSSH, iperf3, xrdp, Chromium,
// PostgreSQL) behind it.
package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// iaptermBin is the binary built once for the whole run.
var iaptermBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iapterm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	iaptermBin = filepath.Join(dir, "iapterm")
	build := exec.Command("go", "build", "-o", iaptermBin, "../cmd/iapterm")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building iapterm:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var installMu sync.Mutex

// needProgram returns the path of program, installing Debian package pkg when
// it is missing and this is root with apt-get. Otherwise the test is skipped
// with a message that says what to install.
func needProgram(t *testing.T, program, pkg string) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if p, err := lookPath(program); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			out, err := exec.Command("../scripts/e2e-deps.sh", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("installing %s: %v\n%s", pkg, err, out)
			}
			if p, err := lookPath(program); err == nil {
				return p
			}
			t.Fatalf("installed %s but %s is still missing", pkg, program)
		}
	}
	t.Skipf("SKIPPED: %s not found; install Debian package %s (or run as root with apt-get)", program, pkg)
	return ""
}

// lookPath also searches the sbin directories, where sshd and xrdp live.
func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", program)
}

// Emulator is a running `iapterm emulator` process.
type Emulator struct {
	Endpoint string // IAPTERM_ENDPOINT
	Token    string // IAPTERM_ACCESS_TOKEN
	CAFile   string // IAPTERM_CA_FILE, with --tls
	cmd      *exec.Cmd
}

// Env returns the environment a client process needs to use this emulator.
func (e *Emulator) Env() []string {
	env := append(os.Environ(), "IAPTERM_ENDPOINT="+e.Endpoint, "IAPTERM_ACCESS_TOKEN="+e.Token)
	if e.CAFile != "" {
		env = append(env, "IAPTERM_CA_FILE="+e.CAFile)
	}
	return env
}

// startEmulator runs `iapterm emulator ARGS...` and waits for its
// IAPTERM_* lines. It is stopped when the test ends.
func startEmulator(t *testing.T, args ...string) *Emulator {
	t.Helper()
	cmd := exec.Command(iaptermBin, append([]string{"emulator"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &Emulator{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for e.Endpoint == "" || e.Token == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("emulator exited before printing its endpoint")
			}
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "IAPTERM_ENDPOINT":
				e.Endpoint = v
			case "IAPTERM_ACCESS_TOKEN":
				e.Token = v
			case "IAPTERM_CA_FILE":
				e.CAFile = v
			}
		case <-deadline:
			t.Fatal("emulator did not print its endpoint within 30s")
		}
	}
	// Keep draining so the emulator never blocks on a full pipe.
	go func() {
		for range lines {
		}
	}()
	return e
}

// writeTestFile writes content to dir/name (0600) and returns its path.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runIapterm runs `iapterm ARGS...` with env and returns its stdout and
// stderr together, and its exit status. Not being able to run it at all
// fails the test.
func runIapterm(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(iaptermBin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("iapterm %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
