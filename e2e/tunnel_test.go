//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tunnelWorld has one project where tunnels work, one whose IAM condition
// allows only port 22, and one without a firewall rule for IAP.
const tunnelWorld = `
users:
  - email: tunnel-user@example.com
projects:
  - id: tun-ok
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: vm-data
        zone: us-central1-a
      - name: vm-ssh
        zone: us-central1-a
  - id: tun-cond
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
        condition:
          title: ssh only
          expression: destination.port == 22
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: vm-win
        zone: us-central1-b
  - id: tun-nofw
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
    instances:
      - name: vm-closed
        zone: us-central1-c
`

func writeTunnelWorld(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(p, []byte(tunnelWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type tunnelProc struct {
	cmd    *exec.Cmd
	port   int
	stderr *syncBuffer
	waited chan error
}

var listeningRe = regexp.MustCompile(`^Listening on port \[(\d+)\]\.$`)

// startTunnel runs `iapterm tunnel ARGS` and waits for its Listening line.
func startTunnel(t *testing.T, env []string, args ...string) *tunnelProc {
	t.Helper()
	cmd := exec.Command(iaptermBin, append([]string{"tunnel"}, args...)...)
	cmd.Env = env
	p := &tunnelProc{cmd: cmd, stderr: &syncBuffer{}, waited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { p.waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	select {
	case line, ok := <-lines:
		m := listeningRe.FindStringSubmatch(line)
		if !ok || m == nil {
			t.Fatalf("iapterm tunnel printed %q, not the Listening line; stderr:\n%s", line, p.stderr)
		}
		p.port, _ = strconv.Atoi(m[1])
	case <-time.After(60 * time.Second):
		t.Fatalf("iapterm tunnel did not start listening; stderr:\n%s", p.stderr)
	}
	// stderr is copied by another goroutine: give it a moment.
	for i := 0; !strings.Contains(p.stderr.String(), "Testing if tunnel connection works."); i++ {
		if i == 100 {
			t.Errorf("stderr lacks the connection test line: %q", p.stderr)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// runTunnelFail runs `iapterm tunnel ARGS`, which must fail, and returns
// its stderr.
func runTunnelFail(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(iaptermBin, append([]string{"tunnel"}, args...)...)
	cmd.Env = env
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("iapterm tunnel %v succeeded; stdout %q", args, stdout.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("iapterm tunnel %v did not exit; stderr:\n%s", args, stderr.String())
	}
	if strings.Contains(stdout.String(), "Listening") {
		t.Errorf("a failed tunnel printed %q", stdout.String())
	}
	return stderr.String()
}

// dataBackend serves three commands on each connection: 'D' streams size
// bytes of seeded random data and closes; 'U' hashes the next size bytes and
// reports the hash on uploads; 'E' echoes.
type dataBackend struct {
	ln      net.Listener
	size    int64
	uploads chan [32]byte
}

func startDataBackend(t *testing.T, size int64) *dataBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &dataBackend{ln: ln, size: size, uploads: make(chan [32]byte, 4)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *dataBackend) addr() string { return b.ln.Addr().String() }

func (b *dataBackend) serve(c net.Conn) {
	defer c.Close()
	var cmd [1]byte
	if _, err := io.ReadFull(c, cmd[:]); err != nil {
		return
	}
	switch cmd[0] {
	case 'D':
		io.Copy(c, io.LimitReader(rand.NewChaCha8(seed), b.size))
	case 'E':
		io.Copy(c, c)
	case 'U':
		// Exactly size bytes: the check must not depend on how the relay
		// treats data still queued for the backend when the client closes.
		h := sha256.New()
		io.CopyN(h, c, b.size)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		b.uploads <- sum
	}
}

var seed = [32]byte{'i', 'a', 'p', 't', 'e', 'r', 'm'}

func expectedSum(size int64) [32]byte {
	h := sha256.New()
	io.Copy(h, io.LimitReader(rand.NewChaCha8(seed), size))
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// transferBothWays downloads and uploads size bytes through the local port
// and checks both SHA-256 sums.
func transferBothWays(t *testing.T, port int, b *dataBackend, size int64) {
	t.Helper()
	want := expectedSum(size)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{'D'})
	h := sha256.New()
	n, err := io.Copy(h, c)
	c.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d of %d bytes, %v", n, size, err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("download: SHA-256 differs from what the backend sent")
	}

	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{'U'})
	if _, err := io.Copy(c, io.LimitReader(rand.NewChaCha8(seed), size)); err != nil {
		t.Fatalf("upload: %v", err)
	}
	select {
	case got := <-b.uploads:
		if got != want {
			t.Fatal("upload: SHA-256 at the backend differs from what was sent")
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("upload: the backend never saw the end of the stream")
	}
	c.Close()
}

func TestTunnelTransfer256MiBWithDrops(t *testing.T) {
	world := writeTunnelWorld(t)
	b := startDataBackend(t, 256<<20)
	emu := startEmulator(t, "--world", world, "--drop-every", "8388608",
		"--backend", "tun-ok/us-central1-a/vm-data:5201="+b.addr())
	p := startTunnel(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a")
	transferBothWays(t, p.port, b, 256<<20)
}

func TestTunnelTLS(t *testing.T) {
	world := writeTunnelWorld(t)
	b := startDataBackend(t, 8<<20)
	emu := startEmulator(t, "--world", world, "--tls", "--drop-every", "1048576",
		"--backend", "tun-ok/us-central1-a/vm-data:5201="+b.addr())
	if emu.CAFile == "" || !strings.HasPrefix(emu.Endpoint, "https://") {
		t.Fatalf("emulator --tls printed endpoint %q and CA file %q", emu.Endpoint, emu.CAFile)
	}
	p := startTunnel(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a")
	transferBothWays(t, p.port, b, 8<<20)

	// Without the CA the client must refuse the emulator's certificate.
	var env []string
	for _, kv := range emu.Env() {
		if !strings.HasPrefix(kv, "IAPTERM_CA_FILE=") {
			env = append(env, kv)
		}
	}
	stderr := runTunnelFail(t, env, "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a")
	if !strings.Contains(stderr, "certificate") {
		t.Errorf("untrusted certificate error: %q", stderr)
	}
}

func TestTunnelErrorMessages(t *testing.T) {
	world := writeTunnelWorld(t)
	b := startDataBackend(t, 1)
	emu := startEmulator(t, "--world", world,
		"--backend", "tun-cond/us-central1-b/vm-win:22="+b.addr(),
		"--backend", "tun-cond/us-central1-b/vm-win:3389="+b.addr(),
		"--backend", "tun-nofw/us-central1-c/vm-closed:22="+b.addr())

	stderr := runTunnelFail(t, emu.Env(), "vm-win", "3389", "--project", "tun-cond", "--zone", "us-central1-b")
	for _, want := range []string{"4033", "roles/iap.tunnelResourceAccessor", "IAP-secured Tunnel User", "vm-win", "port 3389"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("4033 message lacks %q:\n%s", want, stderr)
		}
	}
	// The condition allows port 22.
	p := startTunnel(t, emu.Env(), "vm-win", "22", "--project", "tun-cond", "--zone", "us-central1-b")
	p.cmd.Process.Signal(os.Interrupt)

	stderr = runTunnelFail(t, emu.Env(), "vm-closed", "22", "--project", "tun-nofw", "--zone", "us-central1-c")
	for _, want := range []string{"4003", "gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20", "booting"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("4003 message lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, emu.Token) {
		t.Error("the access token appears in an error message")
	}

	stderr = runTunnelFail(t, emu.Env(), "vm-nope", "22", "--project", "tun-ok", "--zone", "us-central1-a")
	if !strings.Contains(stderr, "not found") {
		t.Errorf("unknown instance message: %q", stderr)
	}

	stderr = runTunnelFail(t, emu.Env(), "vm-win", "22", "--project", "tun-cond")
	if !strings.Contains(stderr, "--zone") {
		t.Errorf("missing --zone message: %q", stderr)
	}
}

func TestTunnelBusyPortAndLoopbackOnly(t *testing.T) {
	world := writeTunnelWorld(t)
	b := startDataBackend(t, 1<<20)
	emu := startEmulator(t, "--world", world, "--backend", "tun-ok/us-central1-a/vm-data:5201="+b.addr())

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	stderr := runTunnelFail(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a",
		"--local-host-port", "localhost:"+strconv.Itoa(port))
	if want := fmt.Sprintf("Local port [%d] is not available.", port); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}

	// Every interface only because the user wrote it out, with a warning.
	wide := startTunnel(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a",
		"--local-host-port", "0.0.0.0:0")
	if addrs := listeningAddrs(t, wide.port); len(addrs) != 1 || addrs[0] != "0.0.0.0" {
		t.Errorf("--local-host-port 0.0.0.0:0 bound %v", addrs)
	}
	if !strings.Contains(wide.stderr.String(), "other machines") {
		t.Errorf("no warning for listening on every interface: %q", wide.stderr)
	}
	wide.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-wide.waited; err != nil {
		t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, wide.stderr)
	}

	p := startTunnel(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a")
	// localhost: 127.0.0.1 and, where the machine has IPv6, ::1.
	addrs := listeningAddrs(t, p.port)
	v4 := false
	for _, a := range addrs {
		v4 = v4 || a == "127.0.0.1"
		if a != "127.0.0.1" && a != "::1" {
			t.Errorf("port %d is bound on %s", p.port, a)
		}
	}
	if !v4 || len(addrs) > 2 {
		t.Errorf("port %d is bound on %v, want 127.0.0.1 (and ::1)", p.port, addrs)
	}
	// One open connection, then Ctrl-C.
	dialEchoed(t, p.port)
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.waited:
		if err != nil {
			t.Errorf("iapterm tunnel exited with %v after Ctrl-C; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("iapterm tunnel did not exit after Ctrl-C")
	}
	if !strings.Contains(p.stderr.String(), "Closed [1] local connection(s).") {
		t.Errorf("stderr after Ctrl-C: %q", p.stderr)
	}
}

// listeningAddrs reads /proc/net/tcp{,6} for the addresses port listens on.
func listeningAddrs(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			hostHex, portHex, _ := strings.Cut(fields[1], ":")
			if p, _ := strconv.ParseUint(portHex, 16, 32); int(p) != port {
				continue
			}
			out = append(out, hexIP(hostHex))
		}
	}
	return out
}

func hexIP(h string) string {
	b := make([]byte, len(h)/2)
	for i := range b {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	// /proc stores each 32-bit word in host (little-endian) order.
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b).String()
}

func TestTunnelProxyCommandWithOpenSSH(t *testing.T) {
	sshd := needProgram(t, "sshd", "openssh-server")
	sshBin := needProgram(t, "ssh", "openssh-client")
	keygen := needProgram(t, "ssh-keygen", "openssh-client")
	dir := t.TempDir()
	for _, k := range []string{"host_key", "user_key"} {
		out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	userPub, _ := os.ReadFile(filepath.Join(dir, "user_key.pub"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("vm-ssh "+string(hostPub)), 0o600)
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sshdPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
`, sshdPort, filepath.Join(dir, "host_key"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgPath := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfgPath, []byte(config), 0o600)
	var sshdLog syncBuffer
	d := exec.Command(sshd, "-D", "-e", "-f", cfgPath)
	d.Stderr = &sshdLog
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(sshdPort))); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("sshd did not start:\n%s", sshdLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	user := "root"
	if os.Geteuid() != 0 {
		user = os.Getenv("USER")
		if user == "" {
			out, _ := exec.Command("id", "-un").Output()
			user = strings.TrimSpace(string(out))
		}
	}
	// The user's key is in the VM's ssh-keys metadata; the emulator's
	// guest agent writes it to sshd's authorized_keys at start.
	world := filepath.Join(dir, "world.yaml")
	withKey := strings.Replace(tunnelWorld, "      - name: vm-ssh\n        zone: us-central1-a\n",
		"      - name: vm-ssh\n        zone: us-central1-a\n        metadata:\n          ssh-keys: "+strconv.Quote(user+":"+strings.TrimSpace(string(userPub)))+"\n", 1)
	if err := os.WriteFile(world, []byte(withKey), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := startEmulator(t, "--world", world, "--backend", fmt.Sprintf("tun-ok/us-central1-a/vm-ssh:22=127.0.0.1:%d", sshdPort),
		"--authorized-keys", user+"@tun-ok/us-central1-a/vm-ssh="+filepath.Join(dir, "authorized_keys"))
	if keys, err := os.ReadFile(filepath.Join(dir, "authorized_keys")); err != nil || !strings.Contains(string(keys), strings.Fields(string(userPub))[1]) {
		t.Fatalf("the agent did not write the key: %v\n%s", err, keys)
	}
	proxy := fmt.Sprintf("%s tunnel %%h %%p --listen-on-stdin --project tun-ok --zone us-central1-a", iaptermBin)
	cmd := exec.Command(sshBin, "-F", "/dev/null",
		"-o", "ProxyCommand="+proxy,
		"-o", "UserKnownHostsFile="+filepath.Join(dir, "known_hosts"),
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-i", filepath.Join(dir, "user_key"),
		"-p", "22",
		user+"@vm-ssh", "echo", "hello-through-iap")
	cmd.Env = emu.Env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello-through-iap") {
		t.Fatalf("ssh through the ProxyCommand: %v\n%s\nsshd:\n%s", err, out, sshdLog.String())
	}
}

// TestTunnelSecondCtrlCEndsAtOnce: the first Ctrl-C waits (up to the close
// timeout) for the relay to acknowledge what the tunnel sent; a second one
// ends the process at once. The emulator is stopped so that nothing is
// acknowledged.
func TestTunnelSecondCtrlCEndsAtOnce(t *testing.T) {
	world := writeTunnelWorld(t)
	b := startDataBackend(t, 1<<20)
	emu := startEmulator(t, "--world", world, "--backend", "tun-ok/us-central1-a/vm-data:5201="+b.addr())
	p := startTunnel(t, emu.Env(), "vm-data", "5201", "--project", "tun-ok", "--zone", "us-central1-a")
	c := dialEchoed(t, p.port)

	if err := emu.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.cmd.Process.Signal(syscall.SIGCONT) })
	if _, err := c.Write([]byte("unacknowledged")); err != nil {
		t.Fatal(err)
	}
	// Wait until the tunnel has read it (its socket's receive queue is
	// empty), so it holds data the relay has not acknowledged.
	clientPort := c.LocalAddr().(*net.TCPAddr).Port
	for i := 0; tunnelRecvQueue(t, p.port, clientPort) != 0; i++ {
		if i == 600 {
			t.Fatal("the tunnel never read the local data")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Ctrl-C until the process ends: the first starts the clean end, which
	// waits for ACKs that will not come; the next ones must end it.
	for {
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-p.waited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
				t.Fatalf("iapterm tunnel ended with %v, want it killed by the second Ctrl-C; stderr:\n%s", err, p.stderr)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tunnelRecvQueue reads, from /proc/net/tcp, how many received bytes wait
// unread on the tunnel's side of the local connection from clientPort.
func tunnelRecvQueue(t *testing.T, tunnelPort, clientPort int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		_, lp, _ := strings.Cut(f[1], ":")
		_, rp, _ := strings.Cut(f[2], ":")
		l, _ := strconv.ParseUint(lp, 16, 32)
		r, _ := strconv.ParseUint(rp, 16, 32)
		if int(l) != tunnelPort || int(r) != clientPort {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		n, _ := strconv.ParseUint(rx, 16, 64)
		return int(n)
	}
	t.Fatalf("no connection from port %d to the tunnel's port %d in /proc/net/tcp", clientPort, tunnelPort)
	return 0
}

// dialEchoed opens a connection through the tunnel on port to the data
// backend and has it echo once, so the relay session is up.
func dialEchoed(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write([]byte("Eping"))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	return c
}
