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
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"iapterm/endpoint"
	"iapterm/projects"
	"iapterm/sshclient"
)

// The SSH end-to-end tests put OpenSSH's sshd behind port 22 of a VM of the
// emulated cloud. A small stand-in for the guest agent (the test itself)
// turns the VM's metadata into sshd's authorized_keys, as the real agent
// does, so iapterm's key publication is what lets it in.

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
`

type sshdVM struct {
	emu      *Emulator
	env      []string // client environment: emulator, temporary config and home
	user     string   // local account sshd lets in
	dir      string
	keysFile string
}

// startSSHD runs sshd on a free loopback port with an authorized_keys file
// the stand-in agent writes.
func startSSHD(t *testing.T) (port int, dir, keysFile string) {
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
	keysFile = filepath.Join(dir, "authorized_keys")
	os.WriteFile(keysFile, nil, 0o600)
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
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, hostKey, filepath.Join(dir, "sshd.pid"), keysFile)
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
	return port, dir, keysFile
}

// runGuestAgent copies the keys of login from the VM's project and
// instance ssh-keys metadata (unexpired, honouring block-project-ssh-keys)
// into keysFile until the test ends.
func runGuestAgent(t *testing.T, emu *Emulator, login, keysFile string) {
	t.Helper()
	eps, err := endpoint.Parse(emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := projects.NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: emu.Token}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		var last string
		for ctx.Err() == nil {
			pm, err1 := cloud.ProjectMetadata(ctx, "ssh-proj")
			in, err2 := cloud.Instance(ctx, "ssh-proj", "us-central1-a", "vm-openssh")
			if err1 == nil && err2 == nil {
				values := []string{in.Metadata["ssh-keys"]}
				if v, _ := in.Metadata["block-project-ssh-keys"]; v != "true" {
					values = append(values, pm["ssh-keys"])
				}
				var b strings.Builder
				for _, v := range values {
					for _, line := range strings.Split(v, "\n") {
						k := sshclient.ParseMetadataKey(line)
						if k.Parsed && k.User == login && !k.Expired(time.Now()) {
							b.WriteString(k.Type + " " + k.Blob + "\n")
						}
					}
				}
				if b.String() != last {
					last = b.String()
					tmp := keysFile + ".tmp"
					os.WriteFile(tmp, []byte(last), 0o600)
					os.Rename(tmp, keysFile)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

func setupSSHDVM(t *testing.T) *sshdVM {
	t.Helper()
	needProgram(t, "ssh", "openssh-client")
	port, dir, keysFile := startSSHD(t)
	world := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(world, []byte(sshWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := startEmulator(t, "--world", world, "--backend", fmt.Sprintf("ssh-proj/us-central1-a/vm-openssh:22=127.0.0.1:%d", port))
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	runGuestAgent(t, emu, u.Username, keysFile)
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(emu.Env(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "IAPTERM_PROJECT=ssh-proj")
	return &sshdVM{emu: emu, env: env, user: u.Username, dir: dir, keysFile: keysFile}
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
	// The key was published in project metadata with an expiry.
	data, _ := os.ReadFile(v.keysFile)
	if len(bytes.TrimSpace(data)) == 0 {
		t.Fatal("the stand-in agent wrote no key")
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
	// The real ssh, without the user's own config, runs the printed command
	// with strict host key checking against iapterm's known_hosts.
	script := line + " -F /dev/null -o BatchMode=yes -- echo dry-run-ok"
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = v.env
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "dry-run-ok" {
		t.Fatalf("running %s: %v\n%s", script, err, out)
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
