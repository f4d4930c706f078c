// Package cloud is the emulator's live state: projects, instances with their
// status and metadata, users, access tokens, IAM decisions and firewall
// verdicts, built from a world file and changed by the emulated APIs. Every
// method is safe for concurrent use and returns copies, never references
// into the state.
package cloud

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"iapterm/emulator/world"
)

// ErrNotFound is wrapped by every error about a project, zone or instance
// that does not exist.
var ErrNotFound = errors.New("not found")

// ErrFingerprintMismatch is returned by metadata writes whose fingerprint is
// not the current one (Compute answers 412 conditionNotMet). Its text is
// Compute's message, word for word.
//
//lint:ignore ST1005 the text is the wire message clients see
var ErrFingerprintMismatch = errors.New("Supplied fingerprint does not match current metadata fingerprint.")

// ErrNoBackend means nothing stands behind an instance port.
var ErrNoBackend = errors.New("no backend for this port")

// NotFoundError names what was not found, in Compute's words
// ("projects/p/zones/z/instances/x").
type NotFoundError struct{ Resource string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("The resource '%s' was not found", e.Resource)
}

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func notFound(format string, args ...any) error {
	return &NotFoundError{Resource: fmt.Sprintf(format, args...)}
}

// DefaultTokenTTL is how long issued access tokens live unless configured.
const DefaultTokenTTL = time.Hour

// Options configure a Cloud.
type Options struct {
	// TokenTTL is the lifetime of issued access tokens (DefaultTokenTTL
	// when 0).
	TokenTTL time.Duration
	// Backends override or add the backends of instance ports:
	// "PROJECT/ZONE/INSTANCE:PORT" -> "HOST:PORT" (or "builtin-ssh").
	Backends map[string]string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// MetadataItem is one metadata key and value.
type MetadataItem struct {
	Key, Value string
}

// Metadata is a metadata set with its fingerprint, items sorted by key.
type Metadata struct {
	Fingerprint string
	Items       []MetadataItem
}

// Get returns the value of key.
func (m Metadata) Get(key string) (string, bool) {
	for _, it := range m.Items {
		if it.Key == key {
			return it.Value, true
		}
	}
	return "", false
}

// Map returns the items as a map.
func (m Metadata) Map() map[string]string {
	out := make(map[string]string, len(m.Items))
	for _, it := range m.Items {
		out[it.Key] = it.Value
	}
	return out
}

func (m Metadata) clone() Metadata {
	return Metadata{Fingerprint: m.Fingerprint, Items: slices.Clone(m.Items)}
}

// Project is a snapshot of one project.
type Project struct {
	ID     string
	Number int64
	Name   string // display name
	State  string // ACTIVE, ...
	Labels map[string]string
	Parent string // organizations/N, or empty
	// Metadata is the project's commonInstanceMetadata.
	Metadata Metadata
	// IAM is the Resource Manager policy; IAPTunnelIAM the policy on
	// projects/ID/iap_tunnel.
	IAM, IAPTunnelIAM []world.Binding
	// Firewalls are this project's VPC firewall rules (defaults filled in).
	Firewalls []world.Firewall
	// Zones is every zone of the project: those with instances and those
	// listed empty, sorted.
	Zones            []string
	UnreachableZones []string
}

// Instance is a snapshot of one VM.
type Instance struct {
	Project, Zone, Name string
	ID                  uint64
	Status              string
	OS                  string // linux or windows
	MachineType         string // e2-medium
	// Network is the full network name "projects/HOST/global/networks/N":
	// HOST is another project for a shared VPC.
	Network string
	// Subnetwork is "projects/HOST/regions/REGION/subnetworks/NAME".
	Subnetwork     string
	InternalIP     string // nic0's address: where IAP connects
	ExternalIP     string // empty when none
	Labels         map[string]string
	Tags           []string
	ServiceAccount string
	Metadata       Metadata
	IAPTunnelIAM   []world.Binding
	// Serial is the initial serial port output from the world file.
	Serial map[int]string
	// Created and LastStart are the creation and last start times.
	Created, LastStart time.Time
}

// Key is "PROJECT/ZONE/NAME", the instance's key in Backends and logs.
func (i Instance) Key() string { return i.Project + "/" + i.Zone + "/" + i.Name }

// ResourceName is "projects/P/zones/Z/instances/N".
func (i Instance) ResourceName() string {
	return "projects/" + i.Project + "/zones/" + i.Zone + "/instances/" + i.Name
}

// TunnelResource is the IAP resource name of the instance
// ("projects/P/iap_tunnel/zones/Z/instances/N").
func (i Instance) TunnelResource() string {
	return "projects/" + i.Project + "/iap_tunnel/zones/" + i.Zone + "/instances/" + i.Name
}

// IsWindows reports whether the VM runs Windows.
func (i Instance) IsWindows() bool { return i.OS == "windows" }

// NetworkProject is the project that owns the instance's network (the
// shared-VPC host project, or the instance's own).
func (i Instance) NetworkProject() string {
	rest, _ := strings.CutPrefix(i.Network, "projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// BuiltinDialer connects to a backend the emulator serves itself (such as
// "builtin-ssh") for an instance port.
type BuiltinDialer func(ctx context.Context, inst Instance, port int) (net.Conn, error)

// Cloud is the live state.
type Cloud struct {
	now      func() time.Time
	tokenTTL time.Duration

	mu        sync.RWMutex
	users     []world.User
	groups    map[string][]string // lowercased group -> lowercased members
	projects  map[string]*project
	numbers   map[int64]string
	tokens    map[string]*Token
	backends  map[string]string // "P/Z/I:PORT" -> address (overrides)
	builtins  map[string]BuiltinDialer
	listeners []func()
}

type project struct {
	def       world.Project // Instances cleared; Metadata unused
	metadata  Metadata
	instances map[string]*instance // "zone/name"
}

type instance struct {
	def       world.Instance
	status    string
	metadata  Metadata
	created   time.Time
	lastStart time.Time
}

// New builds the live state of w, filling in w's defaults first (see
// world.ApplyDefaults) and validating it. Backend overrides must name
// existing instances.
func New(w *world.World, o Options) (*Cloud, error) {
	w.ApplyDefaults()
	if err := w.Validate(); err != nil {
		return nil, err
	}
	c := &Cloud{
		now:      o.Now,
		tokenTTL: o.TokenTTL,
		groups:   map[string][]string{},
		projects: map[string]*project{},
		numbers:  map[int64]string{},
		tokens:   map[string]*Token{},
		backends: map[string]string{},
		builtins: map[string]BuiltinDialer{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.tokenTTL <= 0 {
		c.tokenTTL = DefaultTokenTTL
	}
	start := c.now()
	c.users = slices.Clone(w.Users)
	for _, u := range w.Users {
		if u.Token != "" {
			c.tokens[u.Token] = &Token{Value: u.Token, Email: u.Email}
		}
	}
	for g, ms := range w.Groups {
		lm := make([]string, len(ms))
		for i, m := range ms {
			lm[i] = strings.ToLower(m)
		}
		c.groups[strings.ToLower(g)] = lm
	}
	for _, wp := range w.Projects {
		p := &project{def: cloneProject(wp), instances: map[string]*instance{}}
		p.def.Instances = nil
		p.metadata = newMetadata(wp.Metadata)
		for _, wi := range wp.Instances {
			in := &instance{def: cloneInstance(wi), status: wi.Status, metadata: newMetadata(wi.Metadata), created: start.Add(-24 * time.Hour)}
			if in.status == "RUNNING" {
				in.lastStart = start
			}
			p.instances[wi.Zone+"/"+wi.Name] = in
		}
		c.projects[wp.ID] = p
		c.numbers[wp.Number] = wp.ID
	}
	for k, addr := range o.Backends {
		if err := c.SetBackend(k, addr); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseBackendKey splits "PROJECT/ZONE/INSTANCE:PORT".
func ParseBackendKey(key string) (projectID, zone, name string, port int, err error) {
	inst, portStr, ok := strings.Cut(key, ":")
	parts := strings.Split(inst, "/")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", 0, fmt.Errorf("backend %q must be PROJECT/ZONE/INSTANCE:PORT", key)
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", "", "", 0, fmt.Errorf("backend %q: port must be 1-65535", key)
	}
	return parts[0], parts[1], parts[2], port, nil
}

// SetBackend puts addr ("HOST:PORT" or "builtin-ssh"; empty removes the
// override) behind an instance port given as "PROJECT/ZONE/INSTANCE:PORT".
func (c *Cloud) SetBackend(key, addr string) error {
	p, z, n, port, err := ParseBackendKey(key)
	if err != nil {
		return err
	}
	if addr != "" {
		if err := world.CheckBackend(addr); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.instanceLocked(p, z, n); err != nil {
		return fmt.Errorf("backend %s: %w", key, err)
	}
	k := fmt.Sprintf("%s/%s/%s:%d", p, z, n, port)
	if addr == "" {
		delete(c.backends, k)
	} else {
		c.backends[k] = addr
	}
	return nil
}

// Backend returns the address behind an instance port: an override, else
// the world file's entry.
func (c *Cloud) Backend(projectID, zone, name string, port int) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if a, ok := c.backends[fmt.Sprintf("%s/%s/%s:%d", projectID, zone, name, port)]; ok {
		return a, true
	}
	in, err := c.instanceLocked(projectID, zone, name)
	if err != nil {
		return "", false
	}
	a, ok := in.def.Backends[port]
	return a, ok && a != ""
}

// RegisterBuiltin makes the backend name (e.g. world.BuiltinSSH) dial
// through d.
func (c *Cloud) RegisterBuiltin(name string, d BuiltinDialer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.builtins[name] = d
}

// DialBackend connects to what stands behind an instance port, as IAP
// would from 35.235.240.0/20 (the caller checks status and firewall). It
// wraps ErrNoBackend when nothing is configured there.
func (c *Cloud) DialBackend(ctx context.Context, inst Instance, port int) (net.Conn, error) {
	addr, ok := c.Backend(inst.Project, inst.Zone, inst.Name, port)
	if !ok {
		return nil, fmt.Errorf("%s port %d: %w", inst.Key(), port, ErrNoBackend)
	}
	c.mu.RLock()
	d := c.builtins[addr]
	c.mu.RUnlock()
	if addr == world.BuiltinSSH || d != nil {
		if d == nil {
			return nil, fmt.Errorf("%s port %d: %s is not running: %w", inst.Key(), port, addr, ErrNoBackend)
		}
		return d(ctx, inst, port)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", addr)
}

// OnChange registers f to run after every change of metadata or status
// (outside the state lock, on the changing goroutine).
func (c *Cloud) OnChange(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, f)
}

func (c *Cloud) changed() {
	c.mu.RLock()
	ls := slices.Clone(c.listeners)
	c.mu.RUnlock()
	for _, f := range ls {
		f()
	}
}

// projectLocked accepts a project ID or number.
func (c *Cloud) projectLocked(idOrNumber string) (*project, error) {
	if p, ok := c.projects[idOrNumber]; ok {
		return p, nil
	}
	if n, err := strconv.ParseInt(idOrNumber, 10, 64); err == nil {
		if id, ok := c.numbers[n]; ok {
			return c.projects[id], nil
		}
	}
	return nil, notFound("projects/%s", idOrNumber)
}

func (c *Cloud) instanceLocked(projectID, zone, name string) (*instance, error) {
	_, in, err := c.lookupLocked(projectID, zone, name)
	return in, err
}

func (c *Cloud) lookupLocked(projectID, zone, name string) (*project, *instance, error) {
	p, err := c.projectLocked(projectID)
	if err != nil {
		return nil, nil, err
	}
	in, ok := p.instances[zone+"/"+name]
	if !ok {
		return nil, nil, notFound("projects/%s/zones/%s/instances/%s", projectID, zone, name)
	}
	return p, in, nil
}

// Projects returns every project, sorted by ID.
func (c *Cloud) Projects() []Project {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Project, 0, len(c.projects))
	for _, p := range c.projects {
		out = append(out, p.snapshot())
	}
	slices.SortFunc(out, func(a, b Project) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Project returns one project by ID or number.
func (c *Cloud) Project(idOrNumber string) (Project, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, err := c.projectLocked(idOrNumber)
	if err != nil {
		return Project{}, err
	}
	return p.snapshot(), nil
}

// Instances returns the instances of a project, sorted by zone then name.
func (c *Cloud) Instances(projectID string) ([]Instance, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, err := c.projectLocked(projectID)
	if err != nil {
		return nil, err
	}
	return p.sortedInstances(""), nil
}

// InstancesInZone returns the instances of one zone of a project, sorted
// by name (empty when the zone has none).
func (c *Cloud) InstancesInZone(projectID, zone string) ([]Instance, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, err := c.projectLocked(projectID)
	if err != nil {
		return nil, err
	}
	return p.sortedInstances(zone), nil
}

// AllInstances returns every instance, sorted by project, zone and name.
func (c *Cloud) AllInstances() []Instance {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Instance
	ids := slices.Sorted(maps.Keys(c.projects))
	for _, id := range ids {
		out = append(out, c.projects[id].sortedInstances("")...)
	}
	return out
}

// Instance returns one instance.
func (c *Cloud) Instance(projectID, zone, name string) (Instance, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, in, err := c.lookupLocked(projectID, zone, name)
	if err != nil {
		return Instance{}, err
	}
	return in.snapshot(p.def.ID), nil
}

// SetStatus changes an instance's status (one of world.Statuses) and
// returns the new snapshot. Becoming RUNNING records the start time.
func (c *Cloud) SetStatus(projectID, zone, name, status string) (Instance, error) {
	if !slices.Contains(world.Statuses, status) {
		return Instance{}, fmt.Errorf("unknown instance status %q", status)
	}
	c.mu.Lock()
	p, in, err := c.lookupLocked(projectID, zone, name)
	if err != nil {
		c.mu.Unlock()
		return Instance{}, err
	}
	if status == "RUNNING" && in.status != "RUNNING" {
		in.lastStart = c.now()
	}
	in.status = status
	snap := in.snapshot(p.def.ID)
	c.mu.Unlock()
	c.changed()
	return snap, nil
}

// SetInstanceMetadata replaces an instance's metadata when fingerprint is
// the current one (else ErrFingerprintMismatch), giving it a new
// fingerprint.
func (c *Cloud) SetInstanceMetadata(projectID, zone, name, fingerprint string, items []MetadataItem) (Metadata, error) {
	c.mu.Lock()
	in, err := c.instanceLocked(projectID, zone, name)
	if err != nil {
		c.mu.Unlock()
		return Metadata{}, err
	}
	md, err := in.metadata.replace(fingerprint, items)
	c.mu.Unlock()
	if err == nil {
		c.changed()
	}
	return md, err
}

// SetProjectMetadata replaces a project's common instance metadata when
// fingerprint is the current one (else ErrFingerprintMismatch).
func (c *Cloud) SetProjectMetadata(projectID, fingerprint string, items []MetadataItem) (Metadata, error) {
	c.mu.Lock()
	p, err := c.projectLocked(projectID)
	if err != nil {
		c.mu.Unlock()
		return Metadata{}, err
	}
	md, err := p.metadata.replace(fingerprint, items)
	c.mu.Unlock()
	if err == nil {
		c.changed()
	}
	return md, err
}

// replace sets m to items when fingerprint is m's current one (else
// ErrFingerprintMismatch) and returns a copy of the new metadata. The
// caller holds the lock.
func (m *Metadata) replace(fingerprint string, items []MetadataItem) (Metadata, error) {
	if fingerprint != m.Fingerprint {
		return Metadata{}, ErrFingerprintMismatch
	}
	*m = newMetadataItems(items)
	return m.clone(), nil
}

// Users returns the users; the first is the default user.
func (c *Cloud) Users() []world.User {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.users)
}

// User returns the user with this email (case-insensitive).
func (c *Cloud) User(email string) (world.User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, u := range c.users {
		if strings.EqualFold(u.Email, email) {
			return u, true
		}
	}
	return world.User{}, false
}

// DefaultUser is the first user of the world.
func (c *Cloud) DefaultUser() world.User {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.users[0]
}

// Groups returns the groups email belongs to (directly or through nested
// groups), sorted.
func (c *Cloud) Groups(email string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.groupsOfLocked(strings.ToLower(email))
}

func (c *Cloud) groupsOfLocked(email string) []string {
	seen := map[string]bool{}
	frontier := []string{email}
	for len(frontier) > 0 {
		m := frontier[0]
		frontier = frontier[1:]
		for g, members := range c.groups {
			if !seen[g] && slices.Contains(members, m) {
				seen[g] = true
				frontier = append(frontier, g)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func (p *project) snapshot() Project {
	zones := map[string]bool{}
	for _, z := range p.def.Zones {
		zones[z] = true
	}
	for _, in := range p.instances {
		zones[in.def.Zone] = true
	}
	d := cloneProject(p.def)
	return Project{
		ID: d.ID, Number: d.Number, Name: d.Name, State: d.State, Labels: d.Labels, Parent: d.Parent,
		Metadata: p.metadata.clone(), IAM: d.IAM, IAPTunnelIAM: d.IAPTunnelIAM, Firewalls: d.Firewalls,
		Zones: slices.Sorted(maps.Keys(zones)), UnreachableZones: slices.Sorted(slices.Values(d.UnreachableZones)),
	}
}

func (p *project) sortedInstances(zone string) []Instance {
	out := []Instance{}
	for _, in := range p.instances {
		if zone == "" || in.def.Zone == zone {
			out = append(out, in.snapshot(p.def.ID))
		}
	}
	slices.SortFunc(out, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func (in *instance) snapshot(projectID string) Instance {
	d := cloneInstance(in.def)
	netPath := world.NetworkPath(projectID, d.Network)
	host := Instance{Network: netPath}.NetworkProject()
	sub := d.Subnetwork
	if sub == "" {
		sub = netPath[strings.LastIndexByte(netPath, '/')+1:]
	}
	if !strings.HasPrefix(sub, "projects/") {
		sub = "projects/" + host + "/regions/" + world.Region(d.Zone) + "/subnetworks/" + sub
	}
	return Instance{
		Project: projectID, Zone: d.Zone, Name: d.Name, ID: d.ID, Status: in.status, OS: d.OS,
		MachineType: d.MachineType, Network: netPath, Subnetwork: sub, InternalIP: d.InternalIP,
		ExternalIP: d.ExternalIP, Labels: d.Labels, Tags: d.Tags, ServiceAccount: d.ServiceAccount,
		Metadata: in.metadata.clone(), IAPTunnelIAM: d.IAPTunnelIAM, Serial: d.Serial,
		Created: in.created, LastStart: in.lastStart,
	}
}

func newFingerprint() string {
	var b [8]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func newMetadata(m map[string]string) Metadata {
	items := make([]MetadataItem, 0, len(m))
	for k, v := range m {
		items = append(items, MetadataItem{k, v})
	}
	return newMetadataItems(items)
}

func newMetadataItems(items []MetadataItem) Metadata {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b MetadataItem) int { return cmp.Compare(a.Key, b.Key) })
	return Metadata{Fingerprint: newFingerprint(), Items: items}
}

func cloneBindings(bs []world.Binding) []world.Binding {
	out := slices.Clone(bs)
	for i := range out {
		out[i].Members = slices.Clone(out[i].Members)
		if out[i].Condition != nil {
			c := *out[i].Condition
			out[i].Condition = &c
		}
	}
	return out
}

func cloneProject(p world.Project) world.Project {
	p.Labels = maps.Clone(p.Labels)
	p.Metadata = maps.Clone(p.Metadata)
	p.IAM = cloneBindings(p.IAM)
	p.IAPTunnelIAM = cloneBindings(p.IAPTunnelIAM)
	fws := slices.Clone(p.Firewalls)
	for i := range fws {
		f := &fws[i]
		if f.Priority != nil {
			v := *f.Priority
			f.Priority = &v
		}
		f.SourceRanges = slices.Clone(f.SourceRanges)
		f.SourceTags = slices.Clone(f.SourceTags)
		f.SourceServiceAccounts = slices.Clone(f.SourceServiceAccounts)
		f.TargetTags = slices.Clone(f.TargetTags)
		f.TargetServiceAccounts = slices.Clone(f.TargetServiceAccounts)
		f.Allowed = cloneRules(f.Allowed)
		f.Denied = cloneRules(f.Denied)
	}
	p.Firewalls = fws
	p.Zones = slices.Clone(p.Zones)
	p.UnreachableZones = slices.Clone(p.UnreachableZones)
	p.Instances = slices.Clone(p.Instances)
	return p
}

func cloneRules(rs []world.Rule) []world.Rule {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Ports = slices.Clone(out[i].Ports)
	}
	return out
}

func cloneInstance(in world.Instance) world.Instance {
	in.Labels = maps.Clone(in.Labels)
	in.Tags = slices.Clone(in.Tags)
	in.Metadata = maps.Clone(in.Metadata)
	in.IAPTunnelIAM = cloneBindings(in.IAPTunnelIAM)
	in.Backends = maps.Clone(in.Backends)
	in.Serial = maps.Clone(in.Serial)
	return in
}
