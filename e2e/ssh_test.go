//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"iapterm/endpoint"
	"iapterm/projects"
)

// The SSH end-to-end tests put OpenSSH's sshd behind port 22 of a VM of the
// emulated cloud. sshd reads its authorized keys from files the emulator's
// simulated guest agent writes from the VM's metadata (iapterm emulator
// --authorized-keys), one per login name as sshd's %u asks, so iapterm's
// key publication is what lets it in.

const sshWorld = `
users:
  - email: ssh-user@example.com
projects:
  - id: ssh-proj
    iam:
      - role: roles/owner
        members: [user:ssh-user@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:ssh-user@example.com]
    firewalls:
      - name: allow-iap-ssh
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp, ports: ["22"]}]
    instances:
      - name: vm-openssh
        zone: us-central1-a
      - name: vm-windows
        zone: us-central1-a
        os: windows
  - id: other-proj
    iam:
      - role: roles/owner
        members: [user:ssh-user@example.com]
    instances:
      - name: vm-elsewhere
        zone: europe-west1-b
`

const sshVM = "ssh-proj/us-central1-a/vm-openssh"

type sshdVM struct {
	emu      *Emulator
	env      []string // client environment: emulator, temporary config and home
	user     string   // local account sshd lets in
	dir      string
	keysFile string // the agent's authorized_keys file for user
}

// startSSHD runs sshd on a free loopback port, reading each login's
// authorized keys from keysDir/LOGIN.
func startSSHD(t *testing.T) (port int, dir, keysDir string) {
	t.Helper()
	sshd := needProgram(t, "sshd", "openssh-server")
	dir = t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "e2e host key")
	if err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	if err := os.WriteFile(hostKey, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	keysDir = filepath.Join(dir, "authorized")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s/%%u
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, hostKey, filepath.Join(dir, "sshd.pid"), keysDir)
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd needs its privilege separation directory; the Debian
		// service creates it at start, a bare sshd does not.
		os.MkdirAll("/run/sshd", 0o755)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfgPath)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd stderr:\n%s", stderr.String())
		}
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("sshd did not start: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return port, dir, keysDir
}

func setupSSHDVM(t *testing.T) *sshdVM {
	t.Helper()
	needProgram(t, "ssh", "openssh-client")
	port, dir, keysDir := startSSHD(t)
	world := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(world, []byte(sshWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	// The agent writes keysDir/LOGIN for every login name in the VM's
	// metadata, after its usual delay (shortened to keep the tests quick).
	emu := startEmulator(t, "--world", world, "--agent-delay", "300ms",
		"--backend", fmt.Sprintf("%s:22=127.0.0.1:%d", sshVM, port),
		"--authorized-keys", sshVM+"="+filepath.Join(keysDir, "%u"))
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(emu.Env(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "IAPTERM_PROJECT=ssh-proj")
	return &sshdVM{emu: emu, env: env, user: u.Username, dir: dir, keysFile: filepath.Join(keysDir, u.Username)}
}

// waitForAgentKey waits until the agent's authorized_keys file for the
// test's login holds (or, with present false, no longer holds) the public
// key of the private key file keyPath.
func (v *sshdVM) waitForAgentKey(t *testing.T, keyPath string, present bool) {
	t.Helper()
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	blob := strings.Fields(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))[1]
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(v.keysFile)
		if strings.Contains(string(data), " "+blob+" ") == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's %s never %s the key:\n%s", v.keysFile, map[bool]string{true: "got", false: "lost"}[present], data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removePublishedKeys deletes every ssh-keys entry of the VM's project and
// instance metadata, as an administrator revoking access would.
func (v *sshdVM) removePublishedKeys(t *testing.T) {
	t.Helper()
	eps, err := endpoint.Parse(v.emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := projects.NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.emu.Token}))
	if err != nil {
		t.Fatal(err)
	}
	drop := func(items map[string]string) (bool, error) {
		_, had := items["ssh-keys"]
		delete(items, "ssh-keys")
		return had, nil
	}
	if err := cloud.UpdateProjectMetadata(context.Background(), "ssh-proj", drop); err != nil {
		t.Fatal(err)
	}
	if err := cloud.UpdateInstanceMetadata(context.Background(), "ssh-proj", "us-central1-a", "vm-openssh", drop); err != nil {
		t.Fatal(err)
	}
}

func (v *sshdVM) iapterm(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(iaptermBin, args...)
	cmd.Env = v.env
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func TestSSHOpenSSHCommand(t *testing.T) {
	v := setupSSHDVM(t)
	out, errOut, err := v.iapterm(t, nil, "ssh", "vm-openssh", "--zone", "us-central1-a", "--user", v.user, "--", "uname", "-a")
	if err != nil {
		t.Fatalf("iapterm ssh: %v\n%s", err, errOut)
	}
	want, _ := exec.Command("uname", "-a").Output()
	if out != string(want) {
		t.Fatalf("uname -a through iapterm ssh = %q, want %q", out, want)
	}
	// The remote exit status is iapterm's.
	_, _, err = v.iapterm(t, nil, "ssh", "vm-openssh", "--user", v.user, "--", "exit 42")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Fatalf("exit status: %v", err)
	}
	// Input reaches the command.
	out, errOut, err = v.iapterm(t, strings.NewReader("piped input\n"), "ssh", "vm-openssh", "--user", v.user, "--", "cat")
	if err != nil || out != "piped input\n" {
		t.Fatalf("cat: %q %v %s", out, err, errOut)
	}
	// The agent wrote the published key, with its google-ssh expiry, to
	// the file sshd read.
	data, err := os.ReadFile(v.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	var keys int
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		keys++
		_, comment, opts, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil || comment != v.user || len(opts) != 1 || !strings.HasPrefix(opts[0], "expiry-time=") {
			t.Errorf("agent's line %q: comment %q options %q %v", l, comment, opts, err)
		}
	}
	if keys != 1 {
		t.Fatalf("the agent wrote %d keys:\n%s", keys, data)
	}
}

func TestSSHDryRunWorksWithOpenSSH(t *testing.T) {
	v := setupSSHDVM(t)
	line, errOut, err := v.iapterm(t, nil, "ssh", "vm-openssh", "--user", v.user, "--dry-run")
	if err != nil {
		t.Fatalf("--dry-run: %v\n%s", err, errOut)
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "ssh -i ") || !strings.Contains(line, "HostKeyAlias=compute.") || !strings.Contains(line, "--listen-on-stdin") {
		t.Fatalf("dry-run printed %q", line)
	}
	m := regexp.MustCompile(`^ssh -i ('([^']*)'|(\S+))`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no -i KEY in %q", line)
	}
	keyPath := m[2] + m[3]
	// The real ssh, without the user's own config, runs the printed command
	// with strict host key checking against iapterm's known_hosts, once
	// the agent has written the key where sshd reads it.
	v.waitForAgentKey(t, keyPath, true)
	script := line + " -F /dev/null -o BatchMode=yes -- echo dry-run-ok"
	run := func() (string, error) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = v.env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil || strings.TrimSpace(out) != "dry-run-ok" {
		t.Fatalf("running %s: %v\n%s", script, err, out)
	}
	// Revoked in metadata, the key leaves the agent's file and sshd
	// refuses it: the agent's file is what lets iapterm's key in.
	v.removePublishedKeys(t)
	v.waitForAgentKey(t, keyPath, false)
	if out, err := run(); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("ssh after the key was removed from metadata: %v\n%s", err, out)
	}
}

func TestSSHCopy100MiB(t *testing.T) {
	v := setupSSHDVM(t)
	const size = 100 << 20
	src := filepath.Join(v.dir, "src.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := h.Sum(nil)
	// sshd runs on this machine, so the VM's files are local files too.
	remote := filepath.Join(v.dir, "uploaded.bin")
	if _, errOut, err := v.iapterm(t, nil, "cp", src, "vm-openssh:"+remote, "--user", v.user); err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	if got := fileSHA256(t, remote); !bytes.Equal(got, want) {
		t.Fatal("uploaded file differs")
	}
	back := filepath.Join(v.dir, "downloaded.bin")
	if _, errOut, err := v.iapterm(t, nil, "cp", "vm-openssh:"+remote, back, "--user", v.user); err != nil {
		t.Fatalf("download: %v\n%s", err, errOut)
	}
	if got := fileSHA256(t, back); !bytes.Equal(got, want) {
		t.Fatal("downloaded file differs")
	}
}

func fileSHA256(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return h.Sum(nil)
}

// TestSSHConfigWorksWithOpenSSH includes what `iapterm ssh-config` writes
// from an ssh_config and logs in with the real ssh by the VM's name,
// through iapterm's tunnel and key. iapterm's configuration directory has
// a space and a percent sign, which the Host blocks must quote and escape.
func TestSSHConfigWorksWithOpenSSH(t *testing.T) {
	v := setupSSHDVM(t)
	sshBin := needProgram(t, "ssh", "openssh-client")
	cfgHome := filepath.Join(v.dir, "my config 100%")
	v.env = append(v.env, "XDG_CONFIG_HOME="+cfgHome) // the last value wins
	conf := filepath.Join(v.dir, "iapterm.conf")
	out, errOut, err := v.iapterm(t, nil, "ssh-config", "--project", "ssh-proj", "--user", v.user, "--output", conf)
	if err != nil {
		t.Fatalf("ssh-config: %v\n%s", err, errOut)
	}
	include := strings.TrimSpace(out)
	if include != "Include "+conf {
		t.Fatalf("ssh-config printed %q, want the Include line", out)
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(conf); st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v", conf, st.Mode().Perm())
	}
	if !strings.Contains(string(data), "\nHost vm-openssh vm-openssh.us-central1-a.ssh-proj\n") ||
		strings.Contains(string(data), "vm-windows") || strings.Contains(string(data), "vm-elsewhere") {
		t.Fatalf("Host blocks:\n%s", data)
	}
	sshConfig := filepath.Join(v.dir, "ssh_config")
	if err := os.WriteFile(sshConfig, []byte(include+"\nHost *\n  BatchMode yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// ssh-config published the key: the agent writes it for sshd.
	v.waitForAgentKey(t, filepath.Join(cfgHome, "iapterm", "keys", "id_ed25519"), true)
	ssh := func(host string, args ...string) string {
		t.Helper()
		cmd := exec.Command(sshBin, append([]string{"-F", sshConfig, host}, args...)...)
		cmd.Env = v.env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ssh -F %s %s %v: %v\n%s\nconfig:\n%s", sshConfig, host, args, err, stderr.String(), data)
		}
		return string(out)
	}
	want, _ := exec.Command("uname", "-a").Output()
	if got := ssh("vm-openssh", "uname", "-a"); got != string(want) {
		t.Fatalf("uname -a through ssh vm-openssh = %q, want %q", got, want)
	}
	if got := ssh("vm-openssh.us-central1-a.ssh-proj", "echo", "ok"); got != "ok\n" {
		t.Fatalf("echo ok through the full name = %q", got)
	}
}
