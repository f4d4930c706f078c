package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"iapterm/profiles"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

// Session restore: with the setting ui.restore_sessions, the tunnels open
// when iapterm quits are written to a small file beside the UI state file,
// and reopened on their old local ports once their project has loaded at
// the next start.

// savedSessions is the sessions file.
type savedSessions struct {
	Version int           `json:"version"`
	Tunnels []savedTunnel `json:"tunnels"`
	// SSH are the instances that had SSH tabs open.
	SSH []savedTab `json:"ssh,omitempty"`
}

type savedTab struct {
	Project  string `json:"project"`
	Zone     string `json:"zone"`
	Instance string `json:"instance"`
}

func (t savedTab) key() string { return t.Project + "/" + t.Zone + "/" + t.Instance }

type savedTunnel struct {
	Project   string `json:"project"`
	Zone      string `json:"zone"`
	Instance  string `json:"instance"`
	Port      int    `json:"port"`
	LocalPort int    `json:"localPort,omitempty"`
}

func (t savedTunnel) key() string { return t.Project + "/" + t.Zone + "/" + t.Instance }

// restoreState is what the model keeps for restoring.
type restoreState struct {
	path    string
	pending []savedTunnel // waiting for their project to load
	// tabs: SSH tabs waiting for their project; open: the tabs open at
	// quit (taken before they close).
	tabs, open []savedTab
}

// sessionsPath is the sessions file for a state file: ui-state.json gives
// ui-state-sessions.json (so the demo's state file has its own).
func sessionsPath(statePath string) string {
	if statePath == "" || statePath == "-" {
		return ""
	}
	base := strings.TrimSuffix(filepath.Base(statePath), filepath.Ext(statePath))
	return filepath.Join(filepath.Dir(statePath), base+"-sessions.json")
}

// loadSessions reads the sessions file; a missing file is no sessions.
func loadSessions(path string) ([]savedTunnel, error) {
	s, err := loadSessionsFile(path)
	return s.Tunnels, err
}

func loadSessionsFile(path string) (savedSessions, error) {
	if path == "" {
		return savedSessions{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return savedSessions{}, nil
	}
	if err != nil {
		return savedSessions{}, fmt.Errorf("reading the sessions file: %w", err)
	}
	var s savedSessions
	if err := json.Unmarshal(data, &s); err != nil {
		return savedSessions{}, fmt.Errorf("%s does not parse (%w); delete it, it is rewritten when iapterm quits", path, err)
	}
	return s, nil
}

// snapshotTabs remembers the open SSH tabs before quitting closes them.
func (m *Model) snapshotTabs() {
	m.restore.open = nil
	for k := range m.sessions.Counts() {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) == 3 {
			m.restore.open = append(m.restore.open, savedTab{Project: parts[0], Zone: parts[1], Instance: parts[2]})
		}
	}
}

// initRestore reads the tunnels to reopen; they wait for their project.
func (m *Model) initRestore() {
	if m.store == nil {
		return
	}
	m.restore.path = sessionsPath(m.store.path)
	s, err := loadSessionsFile(m.restore.path)
	if err != nil {
		m.errs.Push(common.ErrorRaisedMsg{Title: "Restoring sessions", Err: err})
		return
	}
	m.restore.pending = s.Tunnels
	if m.opts.Sessions != nil {
		m.restore.tabs = s.SSH
	}
}

// config loads the settings file, or nil when this session has none.
func (m *Model) config() *profiles.Config {
	if m.c.Backend.Config == nil {
		return nil
	}
	cfg, _ := m.c.Backend.Config.LoadConfig() // a broken file gives the last good settings
	return cfg
}

// restoreEnabled resolves ui.restore_sessions for an instance key, with its
// labels when the instance is loaded.
func (m *Model) restoreEnabled(cfg *profiles.Config, project, zone, name string) bool {
	if cfg == nil {
		return false
	}
	t := profiles.Target{Project: project, Zone: zone, Instance: name}
	if inst, ok := m.explorer.Instance(project + "/" + zone + "/" + name); ok {
		t.Labels = inst.Labels
	}
	return cfg.Resolve(t).Bool("ui.restore_sessions")
}

// restoreLoaded reopens the pending tunnels of projects that just loaded.
func (m *Model) restoreLoaded(ids []string) tea.Cmd {
	if len(m.restore.pending) == 0 && len(m.restore.tabs) == 0 {
		return nil
	}
	// A project whose load failed keeps its tunnels pending (a refresh
	// may still bring it).
	loaded := map[string]bool{}
	for _, id := range ids {
		loaded[id] = m.explorerHas(id)
	}
	now, later := partition(m.restore.pending, func(t savedTunnel) bool { return loaded[t.Project] })
	m.restore.pending = later
	tabsNow, tabsLater := partition(m.restore.tabs, func(t savedTab) bool { return loaded[t.Project] })
	m.restore.tabs = tabsLater
	if len(now) == 0 && len(tabsNow) == 0 {
		return nil
	}
	cfg := m.config()
	pool := m.c.Backend.Tunnels
	var cmds []tea.Cmd
	for _, t := range tabsNow {
		inst, ok := m.explorer.Instance(t.key())
		if !ok || !m.restoreEnabled(cfg, t.Project, t.Zone, t.Instance) {
			continue
		}
		if inst.Status != "RUNNING" {
			m.setNotice(fmt.Sprintf("Not reopening the SSH tab of %s: the instance is %s", inst.Name, inst.Status), true)
			continue
		}
		cmds = append(cmds, m.sessions.Open(inst))
	}
	for _, t := range now {
		inst, ok := m.explorer.Instance(t.key())
		if !ok || pool == nil || !m.restoreEnabled(cfg, t.Project, t.Zone, t.Instance) {
			continue
		}
		if inst.Status != "RUNNING" {
			m.setNotice(fmt.Sprintf("Not reopening the tunnel to %s port %d: the instance is %s", inst.Name, t.Port, inst.Status), true)
			continue
		}
		cmds = append(cmds, reopenTunnel(m.c.Ctx, pool, t))
	}
	return tea.Batch(cmds...)
}

// reopenTunnel opens t on its old local port, or on any port when that one
// is taken now.
func reopenTunnel(ctx context.Context, pool common.TunnelPool, t savedTunnel) tea.Cmd {
	return func() tea.Msg {
		target := common.TunnelTarget{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port}
		info, err := pool.Open(ctx, target, t.LocalPort)
		if err != nil && t.LocalPort != 0 && errors.Is(err, tunnel.ErrPortNotAvailable) {
			info, err = pool.Open(ctx, target, 0)
		}
		if err != nil {
			return common.ErrorRaisedMsg{Title: fmt.Sprintf("Reopening the tunnel to %s port %d", t.Instance, t.Port), Err: err,
				Hint: "It was open when iapterm last quit (setting ui.restore_sessions)."}
		}
		return common.TunnelOpenedMsg{Info: info, Purpose: "restored"}
	}
}

// SaveSessions writes the open tunnels whose setting ui.restore_sessions is
// true to the sessions file (atomic, 0600), for the next start. Tunnels
// still waiting to be reopened (their project did not load) are kept.
func (m *Model) SaveSessions() error {
	if m.restore.path == "" || (m.store != nil && m.store.readOnly) {
		return nil
	}
	cfg := m.config()
	var list []savedTunnel
	seen := map[savedTunnel]bool{}
	if pool := m.c.Backend.Tunnels; pool != nil && cfg != nil {
		for _, t := range pool.List() {
			if !m.restoreEnabled(cfg, t.Target.Project, t.Target.Zone, t.Target.Instance) {
				continue
			}
			st := savedTunnel{Project: t.Target.Project, Zone: t.Target.Zone, Instance: t.Target.Instance, Port: t.Target.Port, LocalPort: localPort(t.LocalAddr)}
			if !seen[st] {
				seen[st] = true
				list = append(list, st)
			}
		}
	}
	for _, t := range m.restore.pending {
		// A project removed from the explorer takes its tunnels along.
		if !seen[t] && m.isAdded(t.Project) {
			seen[t] = true
			list = append(list, t)
		}
	}
	var tabs []savedTab
	seenTab := map[savedTab]bool{}
	for _, t := range append(append([]savedTab(nil), m.restore.open...), m.restore.tabs...) {
		if !seenTab[t] && m.isAdded(t.Project) && (cfg != nil && m.restoreEnabled(cfg, t.Project, t.Zone, t.Instance)) {
			seenTab[t] = true
			tabs = append(tabs, t)
		}
	}
	sort.Slice(tabs, func(i, j int) bool { return tabs[i].key() < tabs[j].key() })
	if len(list) == 0 && len(tabs) == 0 {
		if _, err := os.Stat(m.restore.path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].key() != list[j].key() {
			return list[i].key() < list[j].key()
		}
		return list[i].Port < list[j].Port
	})
	data, err := json.MarshalIndent(savedSessions{Version: 1, Tunnels: list, SSH: tabs}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(m.restore.path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving the sessions to restore: %w", err)
	}
	return nil
}

func localPort(addr string) int {
	var n int
	fmt.Sscan(portOf(addr), &n)
	return n
}

// partition splits xs, in order, into those for which yes holds and the rest.
func partition[T any](xs []T, yes func(T) bool) (in, out []T) {
	for _, x := range xs {
		if yes(x) {
			in = append(in, x)
		} else {
			out = append(out, x)
		}
	}
	return in, out
}
