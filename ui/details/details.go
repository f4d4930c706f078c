// Package details draws the properties of the selected instance or project.
package details

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
)

// Model is the details pane. It scrolls when the properties do not fit.
type Model struct {
	c      *common.Common
	inst   *projects.Instance
	proj   *projects.Project
	warn   []string
	tunnel []common.TunnelInfo
	pmd    ProjectMetadata
	offset int
}

// ProjectMetadata is what the pane knows of the selected instance's project
// metadata: the items once read, or the error reading them; neither while
// the read is under way.
type ProjectMetadata struct {
	Loaded bool
	Items  map[string]string
	Err    error
}

// ErrNoProjectMetadata is the Err of a session that cannot read project
// metadata at all.
var ErrNoProjectMetadata = errors.New("project metadata is not available in this session")

// SetProjectMetadata gives the metadata of the shown instance's project,
// which decides the flags the instance does not set itself.
func (m *Model) SetProjectMetadata(pm ProjectMetadata) { m.pmd = pm }

// New returns an empty details pane.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetInstance shows inst and the tunnels open to it.
func (m *Model) SetInstance(inst projects.Instance, tunnels []common.TunnelInfo) {
	if m.inst == nil || m.inst.Key() != inst.Key() {
		m.offset = 0
	}
	m.inst, m.proj, m.tunnel = &inst, nil, tunnels
}

// SetProject shows a project summary.
func (m *Model) SetProject(p projects.Project, warnings []string) {
	if m.proj == nil || m.proj.ID != p.ID {
		m.offset = 0
	}
	m.inst, m.proj, m.warn = nil, &p, warnings
}

// Clear shows nothing.
func (m *Model) Clear() { m.inst, m.proj = nil, nil }

// Scroll moves the view by delta lines.
func (m *Model) Scroll(delta int) {
	m.offset += delta
	if m.offset < 0 {
		m.offset = 0
	}
}

// View draws the pane.
func (m *Model) View() string {
	lines := m.lines()
	h := m.c.Height
	if max := len(lines) - h; m.offset > max {
		m.offset = max
	}
	if m.offset < 0 {
		m.offset = 0
	}
	lines = lines[m.offset:]
	return common.FitLines(strings.Join(lines, "\n"), m.c.Width, h)
}

func (m *Model) lines() []string {
	st := m.c.Styles
	var out []string
	valueW := m.c.Width - labelWidth
	field := func(name, value string) {
		if value == "" {
			return
		}
		// Long values (DNS names, service accounts) wrap under themselves
		// rather than lose their end.
		lines := []string{value}
		if valueW >= 8 && lipgloss.Width(value) > valueW {
			lines = strings.Split(ansi.Hardwrap(value, valueW, true), "\n")
		}
		for i, l := range lines {
			label := ""
			if i == 0 {
				label = name
			}
			out = append(out, st.Label.Render(common.PadRight(label, labelWidth))+l)
		}
	}
	switch {
	case m.inst != nil:
		i := m.inst
		out = append(out, st.PaneTitle.Render(i.Name)+"  "+st.StatusStyle(i.Status).Render(i.Status))
		field("Status message", i.StatusMessage)
		field("ID", i.ID)
		field("Project", i.Project)
		field("Zone", i.Zone)
		field("OS", osName(i.OS))
		field("Machine type", i.MachineType)
		field("CPU platform", i.CPUPlatform)
		field("Internal IP", i.InternalIP)
		field("External IP", orNone(i.ExternalIP))
		field("Internal DNS", i.InternalDNS())
		field("Network", short(i.Network))
		field("Subnetwork", short(i.Subnetwork))
		field("Labels", joinMap(i.Labels))
		field("Network tags", strings.Join(i.Tags, ", "))
		field("Service account", orNone(i.ServiceAccount))
		if len(i.Scopes) > 0 {
			field("Scopes", shortScopes(i.Scopes))
		}
		field("OS Login", Effective(i.Metadata, m.pmd, "enable-oslogin"))
		field("OS Login 2FA", Effective(i.Metadata, m.pmd, "enable-oslogin-2fa"))
		field("Block proj keys", Effective(i.Metadata, m.pmd, "block-project-ssh-keys"))
		field("Serial access", Effective(i.Metadata, m.pmd, "serial-port-enable"))
		if err := m.pmd.Err; err != nil && !errors.Is(err, projects.ErrPermissionDenied) && !errors.Is(err, ErrNoProjectMetadata) && m.needsProject() {
			field("Project meta", err.Error())
		}
		if len(i.ShieldedVM) > 0 {
			field("Shielded VM", joinBools(i.ShieldedVM))
		}
		field("Licenses", strings.Join(shortAll(i.Licenses), ", "))
		field("Created", i.CreationTimestamp)
		field("Last start", i.LastStart)
		for _, t := range m.tunnel {
			field(fmt.Sprintf("Tunnel :%d", t.Target.Port), t.LocalAddr)
		}
	case m.proj != nil:
		p := m.proj
		out = append(out, st.PaneTitle.Render(p.ID))
		field("Name", p.Name)
		field("Number", p.Number)
		field("State", p.State)
		field("Parent", p.Parent)
		field("Labels", joinMap(p.Labels))
		// A warning is the reason a zone is missing: it wraps, under
		// its mark, rather than lose its end.
		for _, w := range m.warn {
			for i, l := range strings.Split(common.WrapWords(w, max(m.c.Width-2, 10)), "\n") {
				mark := "  "
				if i == 0 {
					mark = "! "
				}
				out = append(out, st.Warning.Render(mark+l))
			}
		}
	default:
		out = append(out, st.Dim.Render("Select an instance to see its details."))
	}
	return out
}

func osName(os projects.OS) string {
	if os == projects.Windows {
		return "Windows"
	}
	return "Linux"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func short(url string) string {
	if i := strings.LastIndex(url, "/"); i >= 0 {
		return url[i+1:]
	}
	return url
}

func shortAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = short(s)
	}
	return out
}

func shortScopes(scopes []string) string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = strings.TrimPrefix(s, "https://www.googleapis.com/auth/")
	}
	return strings.Join(out, ", ")
}

func joinMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + ":" + m[k]
	}
	return strings.Join(keys, ", ")
}

func joinBools(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		v := "off"
		if m[k] {
			v = "on"
		}
		keys[i] = k + " " + v
	}
	return strings.Join(keys, ", ")
}

// flagKeys are the boolean keys the pane shows.
var flagKeys = []string{"enable-oslogin", "enable-oslogin-2fa", "block-project-ssh-keys", "serial-port-enable"}

// needsProject reports whether a shown flag depends on project metadata.
func (m *Model) needsProject() bool {
	for _, k := range flagKeys {
		if _, ok := parseBool(m.inst.Metadata, k); !ok && !legacyBlock(m.inst.Metadata, k) {
			return true
		}
	}
	return false
}

// Effective evaluates a boolean metadata key as Compute Engine's guest
// environment does and says where the value came from: the instance's
// value wins, even when false; else the project's; else the default, off.
// Values parse like strconv.ParseBool and one that does not parse counts
// as unset. iapterm, like IAP Desktop, also honours a project-wide
// block-project-ssh-keys, so it is evaluated the same way.
func Effective(inst map[string]string, proj ProjectMetadata, key string) string {
	if legacyBlock(inst, key) {
		return "on (instance has the legacy sshKeys key)"
	}
	if b, ok := parseBool(inst, key); ok {
		return onOff(b) + " (instance)"
	}
	switch {
	case errors.Is(proj.Err, ErrNoProjectMetadata):
		return "unknown (project metadata not available)"
	case errors.Is(proj.Err, projects.ErrPermissionDenied):
		return "unknown (no permission to read project metadata)"
	case proj.Err != nil:
		return "unknown (could not read project metadata)"
	case !proj.Loaded:
		return "…"
	}
	if b, ok := parseBool(proj.Items, key); ok {
		return onOff(b) + " (project)"
	}
	return "off (default)"
}

// legacyBlock: an instance with the old "sshKeys" key ignores project keys.
func legacyBlock(inst map[string]string, key string) bool {
	if key != "block-project-ssh-keys" {
		return false
	}
	_, ok := inst["sshKeys"]
	return ok
}

func parseBool(md map[string]string, key string) (value, ok bool) {
	v, set := md[key]
	if !set {
		return false, false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return b, err == nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
