// Package common holds what every TUI component shares: the screen size, the
// styles, the clock, and the backend interfaces the UI talks to. Components
// never call other packages directly; they return commands built from these
// interfaces, and the results come back as messages.
package common

import (
	"context"
	"os/exec"
	"time"

	"iapterm/doctor"
	"iapterm/profiles"
	"iapterm/projects"
)

// Common is passed by pointer to every component so a resize or a style
// change reaches them all.
type Common struct {
	Ctx     context.Context
	Width   int
	Height  int
	Styles  *Styles
	Now     func() time.Time
	Backend Backend
	// ASCII replaces glyphs with plain characters for terminals that lack them.
	ASCII bool
	// SSHTabs is set when the UI opens SSH sessions in its own tabs; the
	// actions that need tabs are offered only then.
	SSHTabs bool
}

// SetSize records the size the component may draw in.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// Inventory loads projects and their instances.
type Inventory interface {
	// Load reads the given projects and their instances. A project that
	// fails goes into Warnings (or the error when all fail).
	Load(ctx context.Context, projectIDs []string) (projects.Inventory, error)
}

// ProjectSearcher finds projects the user can see.
type ProjectSearcher interface {
	// SearchProjects returns at most max active projects whose name or ID
	// contains query.
	SearchProjects(ctx context.Context, query string, max int) ([]projects.Project, error)
}

// InventoryCache keeps the last inventory on disk so the explorer draws at once.
type InventoryCache interface {
	LoadCache() (projects.Inventory, error)
	SaveCache(projects.Inventory) error
}

// ProjectMetadataReader reads a project's common instance metadata, the
// values an instance inherits for the keys it does not set itself.
type ProjectMetadataReader interface {
	ProjectMetadata(ctx context.Context, project string) (map[string]string, error)
}

// Lifecycle operations on an instance.
type Lifecycle string

const (
	OpStart   Lifecycle = "start"
	OpStop    Lifecycle = "stop"
	OpReset   Lifecycle = "reset"
	OpSuspend Lifecycle = "suspend"
	OpResume  Lifecycle = "resume"
)

// InstanceActions changes an instance's power state; it returns when the
// operation is accepted (or done, if the implementation waits).
type InstanceActions interface {
	Lifecycle(ctx context.Context, inst projects.Instance, op Lifecycle) error
}

// SerialReader reads an instance's serial port output from byte offset start.
type SerialReader interface {
	SerialPort(ctx context.Context, inst projects.Instance, port int, start int64) (contents string, next int64, err error)
}

// TunnelTarget is what a tunnel reaches.
type TunnelTarget struct {
	Project, Zone, Instance string
	Port                    int
}

// TunnelInfo is one open tunnel as the tunnels panel shows it.
type TunnelInfo struct {
	Key         string
	Target      TunnelTarget
	LocalAddr   string
	BytesIn     int64
	BytesOut    int64
	ActiveConns int
	TotalConns  int
	Opened      time.Time
}

// TunnelPool opens pooled local tunnels.
type TunnelPool interface {
	// Open starts (or reuses) a listener for target; localPort 0 lets the
	// pool choose. It returns the local address.
	Open(ctx context.Context, target TunnelTarget, localPort int) (TunnelInfo, error)
	List() []TunnelInfo
	Close(key string) error
	// CloseAll closes every tunnel when the program ends.
	CloseAll() error
}

// Backend bundles what the UI needs; any field may be nil and the features
// that need it say so instead of failing.
type Backend struct {
	Inventory Inventory
	Searcher  ProjectSearcher
	Cache     InventoryCache
	Actions   InstanceActions
	Serial    SerialReader
	Tunnels   TunnelPool
	// ProjectMetadata lets the details pane show the effective OS Login
	// and key flags. Nil: flags an instance does not set show as unknown.
	ProjectMetadata ProjectMetadataReader
	// Self builds a command that runs iapterm itself with args (e.g. "ssh",
	// NAME, "--project", P), set up to reach the same endpoint; the UI hands
	// it the terminal. Nil: connecting opens a tunnel and shows its address.
	Self func(args ...string) *exec.Cmd
	// Config reads the settings file (settings view, profiles, session
	// restore). Nil: those features say they are not available.
	Config ConfigLoader
	// Doctor runs the Diagnose action. Nil: the action says so.
	Doctor Diagnoser
	// RDP launches the user's RDP client detached and generates Windows
	// credentials. Nil: enter on a Windows VM opens a tunnel only.
	RDP RDPLauncher
}

// ConfigLoader reads the settings file. A broken file gives the last
// settings that loaded together with the error.
type ConfigLoader interface {
	LoadConfig() (*profiles.Config, error)
}

// Diagnoser runs iapterm's doctor for one instance port.
type Diagnoser interface {
	// Diagnose runs every check; fix creates the missing firewall rule,
	// start starts (or resumes) a stopped VM first.
	Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report
	// MayCreateFirewall reports whether the user may create firewall
	// rules in project.
	MayCreateFirewall(ctx context.Context, project string) (bool, error)
}
