//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const connectWorld = `users:
  - email: dba@example.com
    token: dba-token
projects:
  - id: data-prod
    iam:
      - role: roles/owner
        members: [user:dba@example.com]
    firewalls:
      - name: allow-iap-postgres
        sourceRanges: [35.235.240.0/20]
        allowed:
          - IPProtocol: tcp
            ports: ["5432"]
    instances:
      - name: db-1
        zone: europe-west1-b
        labels: {role: db, env: prod}
      - name: db-0-stopped
        zone: europe-west1-b
        status: TERMINATED
        labels: {role: db}
`

const connectConfig = `# A profile that opens psql through a tunnel to a label-selected VM.
[[profile]]
name = "prod-db"
project = "data-prod"
selector = "role=db"
app = "psql"
args = ["--no-psqlrc", "--tuples-only", "--no-align", "--command=SELECT 1", "postgres"]
[profile.ssh]
user = "postgres"
`

// startPostgres runs a throwaway PostgreSQL server on a free loopback port
// and returns the port.
func startPostgres(t *testing.T) int {
	t.Helper()
	bin := postgresBinDir(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// PostgreSQL refuses to run as root: use the postgres account then.
	var asUser []string
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres account: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		for _, d := range []string{dir, data, sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		// t.TempDir's parents must be traversable by postgres.
		for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
				os.Chmod(p, st.Mode().Perm()|0o001)
			}
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(name string, args ...string) *exec.Cmd {
		full := append(append(append([]string{}, asUser...), filepath.Join(bin, name)), args...)
		return exec.Command(full[0], full[1:]...)
	}
	if out, err := command("initdb", "--auth=trust", "--username=postgres", "--no-sync", "-D", data).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postgresBinDir finds Debian's versioned server binaries, installing the
// postgresql package when it is missing.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	find := func() string {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		if len(m) == 0 {
			return ""
		}
		return filepath.Dir(m[len(m)-1])
	}
	if d := find(); d != "" {
		return d
	}
	needProgram(t, "pg_ctlcluster", "postgresql")
	if d := find(); d != "" {
		return d
	}
	t.Fatal("postgresql is installed but no initdb was found under /usr/lib/postgresql")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestConnectPsqlProfile runs `iapterm connect` of a saved psql profile: the
// label selector picks the RUNNING database VM, a tunnel opens to its port
// 5432 (a real PostgreSQL behind the emulator's relay), psql runs SELECT 1
// through it, and the exit status is psql's.
func TestConnectPsqlProfile(t *testing.T) {
	needProgram(t, "psql", "postgresql-client")
	pgPort := startPostgres(t)
	dir := t.TempDir()
	worldFile := writeTestFile(t, dir, "world.yaml", connectWorld)
	cfgFile := writeTestFile(t, dir, "config.toml", connectConfig)
	emu := startEmulator(t, "--world", worldFile, "--backend", fmt.Sprintf("data-prod/europe-west1-b/db-1:5432=127.0.0.1:%d", pgPort))
	env := append(emu.Env(), "IAPTERM_CONFIG="+cfgFile, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))

	cmd := exec.Command(iaptermBin, "connect", "prod-db")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("iapterm connect prod-db: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != "1" {
		t.Fatalf("psql printed %q, want 1\nstderr:\n%s", got, stderr.String())
	}
	if !strings.Contains(stderr.String(), "instance db-1 (project data-prod, zone europe-west1-b)") {
		t.Errorf("connect did not say which instance the selector picked:\n%s", stderr.String())
	}

	// The program's failure is the command's: a query error exits non-zero.
	bad := strings.Replace(connectConfig, "SELECT 1", "SELECT nope", 1)
	writeTestFile(t, dir, "config.toml", bad)
	if out, code := runIapterm(t, env, "connect", "prod-db"); code == 0 {
		t.Fatalf("a failing psql exited 0:\n%s", out)
	}
}
