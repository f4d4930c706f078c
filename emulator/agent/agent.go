package agent

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultDelay is how long the simulated agent takes to apply a change
// when Options.Delay is zero.
const DefaultDelay = 1500 * time.Millisecond

// VM is what the agent reads about one instance.
type VM struct {
	// Key identifies the VM: "PROJECT/ZONE/NAME".
	Key      string
	Windows  bool
	Running  bool
	Instance map[string]string // instance metadata
	Project  map[string]string // project (common instance) metadata
}

// Source is the part of the live cloud the agent reads and writes.
type Source interface {
	// VMs returns the current state of every VM.
	VMs() []VM
	// OSLoginKeys returns the keys of users allowed to log in to the VM
	// through OS Login (roles/compute.osLogin or osAdminLogin), with their
	// POSIX usernames and, when 2-step verification applies, their codes.
	OSLoginKeys(vmKey string) []Key
	// AppendSerial appends output to a serial port of the VM.
	AppendSerial(vmKey string, port int, data string)
}

// Options tune the agent.
type Options struct {
	// Delay is how long a change takes to reach the VM (DefaultDelay when 0;
	// negative applies changes at once).
	Delay time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AuthorizedKeys are files the agent keeps up to date for VMs whose
	// SSH server is an external program (see AuthorizedKeysFile; check
	// them with Check first).
	AuthorizedKeys []AuthorizedKeysFile
	// Logger receives the agent's logs (slog.Default when nil).
	Logger *slog.Logger
}

// Agent is the guest agent of every VM of the emulated cloud.
type Agent struct {
	src   Source
	delay time.Duration
	now   func() time.Time

	mu      sync.Mutex
	keys    map[string][]Key // applied keys per VM
	twoFA   map[string]bool  // applied enable-oslogin-2fa per VM
	windows map[string]*windowsState
	timers  map[*time.Timer]struct{}
	closed  bool
	// seq numbers snapshots so a late timer never applies an older one
	// over a newer one.
	seq, appliedSeq uint64
	snapMu          sync.Mutex

	log   *slog.Logger
	files map[string][]AuthorizedKeysFile // per VM key
	// fileMu serialises file writes; fileSeq is the snapshot last
	// written, written the content of each file and writtenBy its pattern.
	fileMu    sync.Mutex
	fileSeq   uint64
	written   map[string][]byte
	writtenBy map[string]string
}

// New returns an agent that has already applied the current state.
func New(src Source, o Options) *Agent {
	a := &Agent{
		src:     src,
		delay:   o.Delay,
		now:     o.Now,
		keys:    map[string][]Key{},
		twoFA:   map[string]bool{},
		windows: map[string]*windowsState{},
		timers:  map[*time.Timer]struct{}{},
		log:     o.Logger,
		files:   map[string][]AuthorizedKeysFile{},

		written:   map[string][]byte{},
		writtenBy: map[string]string{},
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, f := range o.AuthorizedKeys {
		a.files[f.VM] = append(a.files[f.VM], f)
	}
	if a.delay == 0 {
		a.delay = DefaultDelay
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.apply()
	return a
}

// Changed tells the agent that metadata, IAM or OS Login profiles changed;
// VMs see the change after the agent's delay. The state is read now, as
// the metadata server would report it to a polling agent.
func (a *Agent) Changed() {
	// One snapshot at a time, so sequence numbers follow snapshot order.
	a.snapMu.Lock()
	defer a.snapMu.Unlock()
	vms, osl := a.snapshot()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.seq++
	seq := a.seq
	if a.delay < 0 {
		a.mu.Unlock()
		a.applySnapshot(seq, vms, osl)
		a.mu.Lock()
		return
	}
	var t *time.Timer
	t = time.AfterFunc(a.delay, func() {
		a.mu.Lock()
		_, live := a.timers[t]
		delete(a.timers, t)
		a.mu.Unlock()
		if live {
			a.applySnapshot(seq, vms, osl)
		}
	})
	a.timers[t] = struct{}{}
}

// Close stops pending changes.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for t := range a.timers {
		t.Stop()
	}
	clear(a.timers)
}

func (a *Agent) apply() {
	vms, osl := a.snapshot()
	a.mu.Lock()
	a.seq++
	seq := a.seq
	a.mu.Unlock()
	a.applySnapshot(seq, vms, osl)
}

// snapshot reads the VMs and, for the running Linux VMs with OS Login on,
// the OS Login keys they accept.
func (a *Agent) snapshot() ([]VM, map[string][]Key) {
	vms := a.src.VMs()
	osl := map[string][]Key{}
	for _, vm := range vms {
		if vm.Running && !vm.Windows && OSLoginEnabled(vm.Instance, vm.Project) {
			osl[vm.Key] = a.src.OSLoginKeys(vm.Key)
		}
	}
	return vms, osl
}

func (a *Agent) applySnapshot(seq uint64, vms []VM, osl map[string][]Key) {
	now := a.now()
	type serialOut struct {
		vm    string
		lines []string
	}
	var outs []serialOut
	var writes []fileWrite
	a.mu.Lock()
	if seq < a.appliedSeq {
		a.mu.Unlock()
		return
	}
	a.appliedSeq = seq
	for _, vm := range vms {
		if !vm.Running {
			delete(a.keys, vm.Key)
			if len(a.files[vm.Key]) > 0 {
				writes = append(writes, fileWrite{vm: vm.Key})
			}
			continue
		}
		if MetadataBool(vm.Instance, vm.Project, "disable-account-manager") {
			// The agent's account manager is off: nothing changes on the
			// VM, and Windows password resets go unanswered.
			continue
		}
		if vm.Windows {
			ws := a.windows[vm.Key]
			if ws == nil {
				ws = &windowsState{}
				a.windows[vm.Key] = ws
			}
			if lines := ws.process(vm.Instance["windows-keys"], now); len(lines) > 0 {
				outs = append(outs, serialOut{vm.Key, lines})
			}
			continue
		}
		if OSLoginEnabled(vm.Instance, vm.Project) {
			keys := osl[vm.Key]
			if MetadataBool(vm.Instance, vm.Project, "enable-oslogin-sk") {
				// Security-key mode accepts only FIDO keys (sk-...).
				keys = slices.DeleteFunc(slices.Clone(keys), func(k Key) bool {
					return !strings.HasPrefix(k.PublicKey.Type(), "sk-")
				})
			}
			a.keys[vm.Key] = keys
			a.twoFA[vm.Key] = MetadataBool(vm.Instance, vm.Project, "enable-oslogin-2fa")
		} else {
			a.keys[vm.Key] = MetadataKeys(vm.Instance, vm.Project, now)
			a.twoFA[vm.Key] = false
		}
		if len(a.files[vm.Key]) > 0 {
			writes = append(writes, fileWrite{vm: vm.Key, keys: a.keys[vm.Key]})
		}
	}
	a.mu.Unlock()
	a.writeFiles(seq, writes, now)
	for _, o := range outs {
		for _, l := range o.lines {
			// Two writes, so readers of the serial port must buffer
			// partial lines as they must against the real agent.
			half := len(l) / 2
			a.src.AppendSerial(o.vm, 4, l[:half])
			a.src.AppendSerial(o.vm, 4, l[half:])
			slog.Debug("agent answered a Windows credentials request", "vm", o.vm)
		}
	}
}

// Authorize decides a public-key login to a VM. It returns whether the key
// is accepted for user and, when 2-step verification applies, the code
// keyboard-interactive must receive.
func (a *Agent) Authorize(vmKey, user string, key ssh.PublicKey) (ok bool, secondFactor string) {
	now := a.now()
	want := key.Marshal()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys[vmKey] {
		if k.User != user || k.expired(now) || !bytes.Equal(k.PublicKey.Marshal(), want) {
			continue
		}
		if a.twoFA[vmKey] {
			return true, k.SecondFactor
		}
		return true, ""
	}
	return false, ""
}

// Keys returns the keys a VM currently accepts (expired ones excluded).
func (a *Agent) Keys(vmKey string) []Key {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Key
	for _, k := range a.keys[vmKey] {
		if !k.expired(now) {
			out = append(out, k)
		}
	}
	return out
}
