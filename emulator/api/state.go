package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"iapterm/emulator/cloud"
)

// operation is a Compute long-running operation.
type operation struct {
	Name, Project, Zone, Type, Target, User string
	TargetID                                uint64
	Inserted                                time.Time
	done                                    chan struct{}
	ended                                   time.Time
}

type operations struct {
	mu  sync.Mutex
	ops map[string]*operation // project/zone-or-global/name
}

func newOperations() *operations { return &operations{ops: map[string]*operation{}} }

func opKey(project, zone, name string) string {
	if zone == "" {
		zone = "global"
	}
	return project + "/" + zone + "/" + name
}

func (o *operations) start(op *operation) *operation {
	var b [6]byte
	rand.Read(b[:])
	op.Name = fmt.Sprintf("operation-%d-%s", time.Now().UnixMilli(), hex.EncodeToString(b[:]))
	op.done = make(chan struct{})
	o.mu.Lock()
	o.ops[opKey(op.Project, op.Zone, op.Name)] = op
	o.mu.Unlock()
	return op
}

func (o *operations) finish(op *operation, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-op.done:
	default:
		op.ended = now
		close(op.done)
	}
}

func (o *operations) get(project, zone, name string) (*operation, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	op, ok := o.ops[opKey(project, zone, name)]
	return op, ok
}

type operationJSON struct {
	Kind          string `json:"kind"`
	ID            string `json:"id"`
	Name          string `json:"name"`
	Zone          string `json:"zone,omitempty"`
	OperationType string `json:"operationType"`
	TargetLink    string `json:"targetLink"`
	TargetID      string `json:"targetId,omitempty"`
	Status        string `json:"status"`
	User          string `json:"user"`
	Progress      int    `json:"progress"`
	InsertTime    string `json:"insertTime"`
	StartTime     string `json:"startTime"`
	EndTime       string `json:"endTime,omitempty"`
	SelfLink      string `json:"selfLink"`
}

func (o *operations) wire(op *operation) operationJSON {
	o.mu.Lock()
	defer o.mu.Unlock()
	scope := computeBase + "projects/" + op.Project + "/global"
	if op.Zone != "" {
		scope = computeBase + "projects/" + op.Project + "/zones/" + op.Zone
	}
	out := operationJSON{
		Kind: "compute#operation", ID: strconv.FormatUint(hashID(op.Name), 10), Name: op.Name,
		OperationType: op.Type, TargetLink: op.Target, User: op.User, Status: "RUNNING", Progress: 0,
		InsertTime: stamp(op.Inserted), StartTime: stamp(op.Inserted), SelfLink: scope + "/operations/" + op.Name,
	}
	if op.TargetID != 0 {
		out.TargetID = strconv.FormatUint(op.TargetID, 10)
	}
	if op.Zone != "" {
		out.Zone = computeBase + "projects/" + op.Project + "/zones/" + op.Zone
	}
	select {
	case <-op.done:
		out.Status, out.Progress, out.EndTime = "DONE", 100, stamp(op.ended)
	default:
	}
	return out
}

// serialBufferSize is how much output each serial port keeps, like
// Compute's 1 MB.
const serialBufferSize = 1 << 20

type serialBuffer struct {
	base int64 // offset of data[0]
	data []byte
}

type serialPorts struct {
	mu    sync.Mutex
	ports map[string]*serialBuffer // "vmkey#port"
}

func newSerialPorts() *serialPorts { return &serialPorts{ports: map[string]*serialBuffer{}} }

func (s *serialPorts) seed(in cloud.Instance) {
	for port, text := range in.Serial {
		s.append(in.Key(), port, text)
	}
	if _, ok := in.Serial[1]; !ok && in.Status == "RUNNING" {
		s.append(in.Key(), 1, bootLog(in))
	}
}

func (s *serialPorts) append(vmKey string, port int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := vmKey + "#" + strconv.Itoa(port)
	b := s.ports[k]
	if b == nil {
		b = &serialBuffer{}
		s.ports[k] = b
	}
	b.data = append(b.data, text...)
	if over := len(b.data) - serialBufferSize; over > 0 {
		b.data = append([]byte(nil), b.data[over:]...)
		b.base += int64(over)
	}
}

// read returns the output from start, moving a discarded start forward.
func (s *serialPorts) read(vmKey string, port int, start int64) (contents string, from, next int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.ports[vmKey+"#"+strconv.Itoa(port)]
	if b == nil {
		return "", 0, 0
	}
	end := b.base + int64(len(b.data))
	if start < b.base {
		start = b.base
	}
	if start > end {
		start = end
	}
	return string(b.data[start-b.base:]), start, end
}

func bootLog(in cloud.Instance) string {
	var b strings.Builder
	if in.IsWindows() {
		fmt.Fprintf(&b, "Windows Boot Manager\r\nStarting Windows\r\n")
		fmt.Fprintf(&b, "GCEGuestAgent: GCE Agent Started (version 20240314.00)\r\n")
		fmt.Fprintf(&b, "Instance setup finished. %s is ready to use.\r\n", in.Name)
		return b.String()
	}
	fmt.Fprintf(&b, "[    0.000000] Linux version 6.1.0-18-cloud-amd64 (debian-kernel@lists.debian.org)\r\n")
	fmt.Fprintf(&b, "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-cloud-amd64 root=/dev/sda1 ro console=ttyS0,115200\r\n")
	fmt.Fprintf(&b, "[    1.204512] systemd[1]: Hostname set to <%s>.\r\n", in.Name)
	fmt.Fprintf(&b, "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.\r\n")
	fmt.Fprintf(&b, "%s google_guest_agent[512]: GCE Agent Started (version 20240314.00).\r\n", in.Name)
	fmt.Fprintf(&b, "\r\nDebian GNU/Linux 12 %s ttyS0\r\n\r\n%s login: ", in.Name, in.Name)
	return b.String()
}
