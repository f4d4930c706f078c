// Package ui is iapterm's terminal user interface: the project explorer, the
// instance details, the tunnels panel and the dialogs, as one Bubble Tea v2
// program. It never calls Google APIs or opens sockets itself: it asks the
// backends in common.Backend through commands, and the results come back as
// messages.
package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/projects"
	"iapterm/ui/actions"
	"iapterm/ui/common"
	"iapterm/ui/details"
	"iapterm/ui/dialog"
	"iapterm/ui/explorer"
	"iapterm/ui/panel"
	"iapterm/ui/picker"
	"iapterm/ui/rdpdialog"
	"iapterm/ui/serial"
	"iapterm/ui/sessions"
	"iapterm/ui/tunnels"
)

// maxConcurrentLoads bounds the projects loaded at the same time.
const maxConcurrentLoads = 8

// Options configure the UI.
type Options struct {
	Backend common.Backend
	// StatePath is the UI state file; "" uses DefaultStatePath, "-" keeps
	// no state.
	StatePath string
	// Account and AccountSource describe who is signed in, for the status bar.
	Account, AccountSource string
	// Endpoint describes where requests go ("Google" or the emulator URL).
	Endpoint string
	// Projects are added when the state file lists none (first run, demo).
	Projects []string
	// Now is the clock (tests fix it).
	Now func() time.Time
	// ASCII draws plain ASCII glyphs.
	ASCII bool
	// Mouse enables click to select and wheel to scroll.
	Mouse bool
	// SaveDelay is how long after a change the state file is written.
	SaveDelay time.Duration
	// Sessions opens SSH tabs; nil keeps enter as the full-screen session.
	Sessions sessions.Opener
}

type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayMenu
	overlayConfirm
	overlayPort
	overlayPicker
	overlayHelp
	overlaySerial
	overlayPanel // a full-screen panel.Panel (settings, profiles, diagnose)
)

type focusPane int

const (
	focusExplorer focusPane = iota
	focusTunnels
)

// Model is the root model.
type Model struct {
	c        *common.Common
	opts     Options
	keys     KeyMap
	explorer *explorer.Model
	expC     *common.Common
	detC     *common.Common
	tunC     *common.Common
	details  *details.Model
	tunnels  *tunnels.Model
	errs     *dialog.ErrorPanel
	help     help.Model
	spin     spinner.Model
	spinning bool

	overlay overlayKind
	menu    *dialog.Menu
	confirm *dialog.Confirm
	port    *dialog.Port
	// lastPorts are the ports last asked for per instance, offered again
	// when its "tunnel to port" form reopens (after a failure, say).
	lastPorts map[string]dialog.PortChosenMsg
	picker    *picker.Model
	serial    *serial.Model
	pnl       panel.Panel
	restore   restoreState

	// SSH tabs; inSession shows them instead of the explorer.
	sessions  *sessions.Model
	inSession bool

	showTunnels bool
	focus       focusPane
	helpOffset  int

	store     *stateStore
	loadSem   chan struct{} // bounds concurrent project loads
	saveSeq   int
	loading   map[string]int // project ID → loads in flight
	projMeta  map[string]*projMetaEntry
	refreshed time.Time
	notice    string
	noticeErr bool
	quitting  bool

	// layout, recomputed by View for mouse hit tests
	treeTop, treeLeft, treeWidth, treeHeight int
	detailsLeft                              int
}

// New builds the root model and reads the state file. A state file that
// does not parse is reported in the error panel and left untouched.
func New(ctx context.Context, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SaveDelay == 0 {
		opts.SaveDelay = 500 * time.Millisecond
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c := &common.Common{Ctx: ctx, Styles: common.DefaultStyles(), Now: opts.Now, Backend: opts.Backend, ASCII: opts.ASCII, SSHTabs: opts.Sessions != nil, Width: 80, Height: 24}
	// Each component gets its own copy so it can hold its own size.
	sub := func() *common.Common { cc := *c; return &cc }
	expC, detC, tunC := sub(), sub(), sub()
	m := &Model{
		c:        c,
		opts:     opts,
		keys:     DefaultKeyMap(),
		expC:     expC,
		detC:     detC,
		tunC:     tunC,
		explorer: explorer.New(expC),
		details:  details.New(detC),
		tunnels:  tunnels.New(tunC),
		errs:     dialog.NewErrorPanel(c),
		help:     help.New(),
		spin:     spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		loading:  map[string]int{},
		projMeta: map[string]*projMetaEntry{},
		loadSem:  make(chan struct{}, maxConcurrentLoads),
	}
	if opts.ASCII {
		m.spin.Spinner = spinner.Line
	}
	m.sessions = sessions.New(sub(), opts.Sessions)
	m.help.Styles.ShortKey = c.Styles.Key
	m.help.Styles.ShortDesc = c.Styles.Dim
	m.help.Styles.ShortSeparator = c.Styles.Dim

	path := opts.StatePath
	if path == "" {
		p, err := DefaultStatePath()
		if err != nil {
			m.errs.Push(common.ErrorRaisedMsg{Title: "UI state", Err: err, Hint: "The explorer will not remember projects between runs."})
		}
		path = p
	}
	if path != "-" && path != "" {
		m.store = &stateStore{path: path}
	}
	var st State
	if m.store != nil {
		var err error
		st, err = LoadState(m.store.path)
		if err != nil {
			m.store.readOnly = true
			m.errs.Push(common.ErrorRaisedMsg{Title: "UI state file", Err: err, Hint: "Changes to the project list are kept only until you quit."})
		}
	}
	ids := st.Projects
	if len(ids) == 0 {
		ids = opts.Projects
	}
	m.explorer.SetProjects(ids)
	m.explorer.SetCollapsed(st.Collapsed)
	m.explorer.SetOSFilter(!st.HideLinux, !st.HideWindows)
	m.explorer.Select(st.Selected)
	m.initRestore()
	return m
}

// Common returns the shared context (tests read sizes and styles).
func (m *Model) Common() *common.Common { return m.c }

// Explorer returns the explorer component.
func (m *Model) Explorer() *explorer.Model { return m.explorer }

// State returns what would be written to the state file now.
func (m *Model) State() State {
	lin, win := m.explorer.OSFilter()
	return State{
		Version:     stateVersion,
		Projects:    m.explorer.Projects(),
		Collapsed:   m.explorer.Collapsed(),
		Selected:    m.explorer.SelectedKey(),
		HideLinux:   !lin,
		HideWindows: !win,
	}
}

// SaveState writes the state file now (used when the program ends).
func (m *Model) SaveState() error {
	m.saveSeq++
	return m.store.save(m.saveSeq, m.State())
}

// Messages private to the root.
type (
	cacheLoadedMsg struct {
		inv projects.Inventory
		err error
	}
	inventoryLoadedMsg struct {
		ids []string
		inv projects.Inventory
		err error
	}
	saveDueMsg    struct{ seq int }
	stateSavedMsg struct{ err error }
	cacheSavedMsg struct{ err error }
	refreshDueMsg struct{ ids []string }
)

// Init draws the cached inventory first, then refreshes every project.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.loadCache(), m.refresh(m.explorer.Projects())}
	return tea.Batch(cmds...)
}

func (m *Model) loadCache() tea.Cmd {
	cache := m.c.Backend.Cache
	if cache == nil {
		return nil
	}
	return func() tea.Msg {
		inv, err := cache.LoadCache()
		return cacheLoadedMsg{inv: inv, err: err}
	}
}

// refresh loads each project in its own command so a slow project does not
// hold back the others.
func (m *Model) refresh(ids []string) tea.Cmd {
	inv := m.c.Backend.Inventory
	if inv == nil || len(ids) == 0 {
		return nil
	}
	var cmds []tea.Cmd
	for _, id := range ids {
		if e := m.projMeta[id]; e != nil {
			e.stale = true
		}
		m.loading[id]++
		one := []string{id}
		ctx, sem := m.c.Ctx, m.loadSem
		cmds = append(cmds, func() tea.Msg {
			// Bubble Tea runs a batch's commands all at once: bound how
			// many projects are asked at the same time.
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				return inventoryLoadedMsg{ids: one, err: ctx.Err()}
			}
			res, err := inv.Load(ctx, one)
			return inventoryLoadedMsg{ids: one, inv: res, err: err}
		})
	}
	m.syncLoading()
	return tea.Batch(append(cmds, m.startSpinner())...)
}

func (m *Model) syncLoading() {
	var on, off []string
	for _, id := range m.explorer.Projects() {
		if m.loading[id] > 0 {
			on = append(on, id)
		} else {
			off = append(off, id)
		}
	}
	m.explorer.SetLoading(on, true)
	m.explorer.SetLoading(off, false)
}

func (m *Model) busy() bool {
	for _, n := range m.loading {
		if n > 0 {
			return true
		}
	}
	return m.picker != nil && m.picker.Busy()
}

func (m *Model) startSpinner() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.spin.Tick
}

func (m *Model) scheduleSave() tea.Cmd {
	if m.store == nil {
		return nil
	}
	m.saveSeq++
	seq := m.saveSeq
	return common.After(m.opts.SaveDelay, func(time.Time) tea.Msg { return saveDueMsg{seq: seq} })
}

func (m *Model) saveCache() tea.Cmd {
	cache := m.c.Backend.Cache
	if cache == nil {
		return nil
	}
	inv := m.explorer.Inventory()
	inv.Loaded = m.refreshed
	return func() tea.Msg { return cacheSavedMsg{err: cache.SaveCache(inv)} }
}

// Update routes messages: window size to every component, keys to the
// focused one, async results to their owner by type.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if fetch := m.syncSelection(); fetch != nil {
		cmd = tea.Batch(cmd, fetch)
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	if cmd, done := m.updateSessions(msg); done {
		return cmd
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.SetSize(msg.Width, msg.Height)
		m.sessions.SetSize(msg.Width, msg.Height)
		m.layout()
		return nil

	case spinner.TickMsg:
		if !m.busy() {
			m.spinning = false
			return nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		m.explorer.SetSpinner(m.spin.View())
		if m.picker != nil {
			m.picker.SetSpinner(m.spin.View())
		}
		return cmd

	case cacheLoadedMsg:
		if msg.err != nil {
			m.setNotice("Inventory cache not used: "+msg.err.Error(), true)
			return nil
		}
		// Only projects still being loaded take cached data: a fresh
		// result must never be replaced by an older cached one.
		inv := filterInventory(msg.inv, func(id string) bool { return m.loading[id] > 0 && !m.explorerHas(id) })
		if len(inv.Projects) > 0 {
			m.explorer.SetInventory(inv)
			if m.refreshed.IsZero() {
				m.refreshed = msg.inv.Loaded
			}
		}
		return nil

	case inventoryLoadedMsg:
		for _, id := range msg.ids {
			if m.loading[id] > 0 {
				m.loading[id]--
			}
		}
		m.syncLoading()
		if msg.err != nil {
			for _, id := range msg.ids {
				m.explorer.SetProjectError(id, msg.err.Error())
			}
			m.errs.Push(common.ErrorRaisedMsg{
				Title: "Loading " + strings.Join(msg.ids, ", "),
				Err:   msg.err,
				Hint:  loadHint(msg.err),
			})
		} else {
			// A project removed while it loaded stays removed.
			inv := filterInventory(msg.inv, m.isAdded)
			m.explorer.SetInventory(inv)
			m.refreshed = m.c.Now()
		}
		restore := m.restoreLoaded(msg.ids)
		if !m.busy() {
			return tea.Batch(m.saveCache(), restore)
		}
		return restore

	case projectMetadataMsg:
		if e := m.projMeta[msg.project]; e != nil {
			e.loading, e.stale = false, false
			e.pm = details.ProjectMetadata{Loaded: msg.err == nil, Items: msg.items, Err: msg.err}
		}
		return nil

	case refreshDueMsg:
		return m.refresh(filterAdded(msg.ids, m.isAdded))

	case saveDueMsg:
		if msg.seq != m.saveSeq {
			return nil
		}
		st, store, seq := m.State(), m.store, msg.seq
		return func() tea.Msg { return stateSavedMsg{err: store.save(seq, st)} }

	case stateSavedMsg:
		if msg.err != nil {
			m.setNotice(msg.err.Error(), true)
		}
		return nil

	case cacheSavedMsg:
		if msg.err != nil {
			m.setNotice("Saving the inventory cache: "+msg.err.Error(), true)
		}
		return nil

	case explorer.StateChangedMsg:
		return m.scheduleSave()

	case common.ErrorRaisedMsg:
		m.errs.Push(msg)
		return nil

	case common.InfoShownMsg:
		m.setNotice(msg.Text, false)
		return nil

	case common.ClipboardCopiedMsg:
		m.setNotice("Copied "+msg.Label+": "+msg.Text, false)
		return tea.SetClipboard(msg.Text)

	case common.TunnelOpenedMsg:
		m.updateMarkers()
		m.tunnels.Refresh()
		t := msg.Info
		text := fmt.Sprintf("Tunnel open: %s → %s:%d", t.LocalAddr, t.Target.Instance, t.Target.Port)
		switch msg.Purpose {
		case "SSH":
			text += fmt.Sprintf(" (ssh -p %s USER@%s)", portOf(t.LocalAddr), hostOf(t.LocalAddr))
		case "RDP":
			text += " (point your RDP client at " + t.LocalAddr + ")"
		}
		m.setNotice(text, false)
		return nil

	case rdpdialog.StartedMsg:
		// The client runs detached: mark its tunnel and wait for its exit.
		m.updateMarkers()
		m.tunnels.Refresh()
		m.setNotice(msg.Text(), false)
		return msg.Wait()

	case rdpdialog.EndedMsg:
		m.updateMarkers()
		m.tunnels.Refresh()
		m.setNotice(msg.Text(), msg.Err != nil)
		return nil

	case actions.SessionEndedMsg:
		m.setNotice(msg.Title+": session ended", false)
		m.updateMarkers()
		return nil

	case common.LifecycleDoneMsg:
		m.setNotice(fmt.Sprintf("%s %s: done", titleCase(string(msg.Op)), msg.Instance.Name), false)
		ids := []string{msg.Instance.Project}
		// The status changes over the next seconds: look again shortly.
		return tea.Batch(m.refresh(ids), common.After(5*time.Second, func(time.Time) tea.Msg { return refreshDueMsg{ids: ids} }))

	case common.ConfirmRequestedMsg:
		m.confirm = dialog.NewConfirm(m.c, msg)
		m.overlay = overlayConfirm
		return nil

	case common.PortDialogRequestedMsg:
		m.port = dialog.NewPort(m.c, msg.Instance)
		if last, ok := m.lastPorts[instanceKey(msg.Instance)]; ok {
			m.port.Prefill(last.Remote, last.Local)
		}
		m.overlay = overlayPort
		return m.port.Init()

	case dialog.PortChosenMsg:
		if m.lastPorts == nil {
			m.lastPorts = map[string]dialog.PortChosenMsg{}
		}
		m.lastPorts[instanceKey(msg.Instance)] = msg
		return actions.OpenTunnel(m.c, msg.Instance, msg.Remote, msg.Local, "")

	case common.SerialRequestedMsg:
		m.serial = serial.New(m.serialCommon(), msg.Instance, msg.Port)
		m.serial.SetSize(m.c.Width, m.c.Height-2)
		m.overlay = overlaySerial
		return m.serial.Init()

	case serial.ReadMsg:
		if m.serial != nil {
			return m.serial.Update(msg)
		}
		return nil

	case serial.ClosedMsg:
		m.serial = nil
		m.overlay = overlayNone
		return nil

	case panel.OpenedMsg:
		m.pnl = msg.Panel
		m.overlay = overlayPanel
		m.pnl.SetSize(m.c.Width, m.c.Height-2)
		return m.pnl.Init()

	case panel.ClosedMsg:
		m.pnl = nil
		if m.overlay == overlayPanel {
			m.overlay = overlayNone
		}
		return msg.Cmd

	case dialog.ClosedMsg:
		m.overlay = overlayNone
		m.menu, m.confirm, m.port = nil, nil, nil
		return msg.Cmd

	case picker.ResultsMsg:
		if m.picker != nil {
			return m.picker.Update(msg)
		}
		return nil

	case picker.DoneMsg:
		m.picker = nil
		m.overlay = overlayNone
		if len(msg.Added) == 0 {
			return nil
		}
		m.explorer.SetProjects(append(m.explorer.Projects(), msg.Added...))
		m.explorer.Select("p:" + msg.Added[0])
		m.setNotice(fmt.Sprintf("Added %s", strings.Join(msg.Added, ", ")), false)
		return tea.Batch(m.refresh(msg.Added), m.scheduleSave())

	case quitConfirmedMsg:
		return m.quit()

	case projectRemovedMsg:
		ids := filterAdded(m.explorer.Projects(), func(id string) bool { return id != msg.id })
		m.explorer.SetProjects(ids)
		delete(m.projMeta, msg.id)
		m.setNotice("Removed "+msg.id+" from the explorer", false)
		return tea.Batch(m.scheduleSave(), m.saveCache())

	case tunnels.TickMsg:
		cmd := m.tunnels.Update(msg)
		m.updateMarkers()
		return cmd

	case tunnels.ClosedMsg:
		m.tunnels.Update(msg)
		m.updateMarkers()
		if msg.Err != nil {
			m.errs.Push(common.ErrorRaisedMsg{Title: "Closing the tunnel", Err: msg.Err})
		} else {
			m.setNotice("Tunnel closed", false)
		}
		return nil

	case tea.KeyPressMsg:
		return m.handleKey(msg)

	case tea.MouseClickMsg:
		return m.handleClick(msg)

	case tea.MouseWheelMsg:
		return m.handleWheel(msg)
	}

	// Anything else (cursor blinks, serial polls, picker debounces) goes
	// to the component that is open.
	switch m.overlay {
	case overlaySerial:
		if m.serial != nil {
			return m.serial.Update(msg)
		}
	case overlayPanel:
		if m.pnl != nil {
			return m.pnl.Update(msg)
		}
	case overlayPicker:
		if m.picker != nil {
			return m.picker.Update(msg)
		}
	case overlayPort:
		if m.port != nil {
			return m.port.Update(msg)
		}
	}
	if m.explorer.Filtering() {
		cmd, _ := m.explorer.Update(msg)
		return cmd
	}
	return nil
}

type projectRemovedMsg struct{ id string }

// quitConfirmedMsg: the user confirmed quitting with SSH sessions open.
type quitConfirmedMsg struct{}

func (m *Model) serialCommon() *common.Common {
	c := *m.c
	return &c
}

func (m *Model) explorerHas(id string) bool {
	_, loaded := m.explorer.ProjectInfo(id)
	return loaded
}

func (m *Model) isAdded(id string) bool {
	for _, p := range m.explorer.Projects() {
		if p == id {
			return true
		}
	}
	return false
}

func filterAdded(ids []string, keep func(string) bool) []string {
	var out []string
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}

func filterInventory(inv projects.Inventory, keep func(string) bool) projects.Inventory {
	out := projects.Inventory{Instances: map[string][]projects.Instance{}, Warnings: map[string][]string{}, Loaded: inv.Loaded}
	for _, p := range inv.Projects {
		if keep(p.ID) {
			out.Projects = append(out.Projects, p)
			out.Instances[p.ID] = inv.Instances[p.ID]
			if w := inv.Warnings[p.ID]; len(w) > 0 {
				out.Warnings[p.ID] = w
			}
		}
	}
	return out
}

func (m *Model) setNotice(s string, isErr bool) {
	m.notice, m.noticeErr = s, isErr
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.ForceQuit) {
		return m.quit()
	}
	if m.errs.Visible() {
		return m.errs.Update(msg)
	}
	switch m.overlay {
	case overlayMenu:
		return m.menu.Update(msg)
	case overlayConfirm:
		return m.confirm.Update(msg)
	case overlayPort:
		return m.port.Update(msg)
	case overlayPicker:
		return m.picker.Update(msg)
	case overlaySerial:
		return m.serial.Update(msg)
	case overlayPanel:
		return m.pnl.Update(msg)
	case overlayHelp:
		switch msg.String() {
		case "down", "j":
			m.helpOffset++
		case "up", "k":
			if m.helpOffset > 0 {
				m.helpOffset--
			}
		case "pgdown":
			m.helpOffset += max(m.c.Height-7, 1) // fullHelp keeps it in range
		case "pgup":
			m.helpOffset = max(m.helpOffset-max(m.c.Height-7, 1), 0)
		case "home", "g":
			m.helpOffset = 0
		case "end", "G":
			m.helpOffset = m.c.Height * 10
		default:
			m.overlay = overlayNone
			m.helpOffset = 0
		}
		return nil
	}
	m.notice = ""

	if m.focus == focusTunnels {
		switch {
		case key.Matches(msg, m.keys.Tunnels):
			return m.toggleTunnels()
		case key.Matches(msg, m.tunnels.KeyMap.Back):
			m.focus = focusExplorer
			return nil
		case key.Matches(msg, m.keys.Quit):
			return m.askQuit()
		case key.Matches(msg, m.keys.Help):
			m.overlay = overlayHelp
			return nil
		}
		return m.tunnels.Update(msg)
	}

	if m.explorer.Filtering() {
		cmd, _ := m.explorer.Update(msg)
		return cmd
	}

	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.askQuit()
	case key.Matches(msg, k.Help):
		m.overlay = overlayHelp
		return nil
	case key.Matches(msg, k.Tunnels):
		return m.toggleTunnels()
	case key.Matches(msg, k.Focus):
		if m.showTunnels {
			m.focus = focusTunnels
		}
		return nil
	case key.Matches(msg, k.Add):
		m.picker = picker.New(m.pickerCommon(), m.explorer.Projects())
		m.overlay = overlayPicker
		return tea.Batch(m.picker.Init(), m.startSpinner())
	case key.Matches(msg, k.Remove):
		r, ok := m.explorer.Selected()
		if !ok {
			return nil
		}
		id := r.Project
		return func() tea.Msg {
			return common.ConfirmRequestedMsg{
				Title:  "Remove project",
				Prompt: fmt.Sprintf("Remove %s from the explorer? The project itself is not changed; add it again with a.", id),
				Yes:    "Remove",
				Cmd:    func() common.Msg { return projectRemovedMsg{id: id} },
			}
		}
	case key.Matches(msg, k.Refresh):
		r, ok := m.explorer.Selected()
		if !ok {
			return nil
		}
		return m.refresh([]string{r.Project})
	case key.Matches(msg, k.RefreshAll):
		return m.refresh(m.explorer.Projects())
	case key.Matches(msg, k.Menu):
		inst, ok := m.explorer.SelectedInstance()
		if !ok {
			m.setNotice("Select an instance to see its actions.", false)
			return nil
		}
		m.menu = dialog.NewMenu(m.c, inst)
		m.overlay = overlayMenu
		return nil
	case key.Matches(msg, k.DetailsUp):
		m.details.Scroll(-5)
		return nil
	case key.Matches(msg, k.DetailsDown):
		m.details.Scroll(5)
		return nil
	}

	if cmd, handled := m.explorer.Update(msg); handled {
		return cmd
	}

	// Settings and profiles work on any node, not only instances.
	if cmd, ok := actions.MatchNode(m.c, msg, m.selectedNode()); ok {
		return cmd
	}

	if a, ok := actions.Match(m.c, msg); ok {
		inst, ok := m.explorer.SelectedInstance()
		if !ok {
			// Say why the key did nothing: a project or zone (or no
			// row at all) is selected.
			m.setNotice(a.Name+": select an instance first", false)
			return nil
		}
		if a.Applies != nil && !a.Applies(inst) {
			why := a.Name + " does not apply to " + inst.Name
			if a.Why != nil {
				why = a.Why(inst)
			}
			m.setNotice(why, true)
			return nil
		}
		return a.Run(m.c, inst)
	}
	return nil
}

// selectedNode is the explorer's selection for node-wide actions.
func (m *Model) selectedNode() actions.Node {
	r, ok := m.explorer.Selected()
	if !ok {
		return actions.Node{}
	}
	n := actions.Node{Project: r.Project, Zone: r.Zone}
	if r.Kind == explorer.InstanceRow && r.Instance != nil {
		inst := *r.Instance
		n.Instance = &inst
	}
	return n
}

func (m *Model) pickerCommon() *common.Common {
	c := *m.c
	return &c
}

func (m *Model) toggleTunnels() tea.Cmd {
	m.showTunnels = !m.showTunnels
	m.layout()
	if m.showTunnels {
		m.focus = focusTunnels
		return m.tunnels.Start()
	}
	m.focus = focusExplorer
	m.tunnels.Stop()
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.snapshotTabs() // before the tabs close: session restore remembers them
	m.sessions.CloseAll()
	return tea.Quit
}

// askQuit quits at once unless SSH sessions are open or connecting: q is
// one stray key away from closing their shells, so it asks first (ctrl+c
// still quits at once).
func (m *Model) askQuit() tea.Cmd {
	counts := m.sessions.Counts()
	if len(counts) == 0 {
		return m.quit()
	}
	n := 0
	var names []string
	for k, c := range counts {
		n += c
		names = append(names, k[strings.LastIndex(k, "/")+1:])
	}
	slices.Sort(names)
	them := "them"
	if n == 1 {
		them = "it"
	}
	prompt := fmt.Sprintf("%d SSH session%s open (%s). Quitting closes %s. Quit?", n, plural(n), strings.Join(names, ", "), them)
	return func() tea.Msg {
		return common.ConfirmRequestedMsg{
			Title:  "Quit iapterm",
			Prompt: prompt,
			Yes:    "Quit",
			Cmd:    func() common.Msg { return quitConfirmedMsg{} },
		}
	}
}

// Quitting reports whether the user asked to quit.
func (m *Model) Quitting() bool { return m.quitting }

func (m *Model) handleClick(msg tea.MouseClickMsg) tea.Cmd {
	if m.overlay != overlayNone || m.errs.Visible() || msg.Button != tea.MouseLeft {
		return nil
	}
	mouse := msg.Mouse()
	if mouse.X >= m.treeLeft && mouse.X < m.treeLeft+m.treeWidth && mouse.Y >= m.treeTop && mouse.Y < m.treeTop+m.treeHeight {
		m.focus = focusExplorer
		return m.explorer.Click(mouse.Y - m.treeTop)
	}
	return nil
}

func (m *Model) handleWheel(msg tea.MouseWheelMsg) tea.Cmd {
	if m.errs.Visible() {
		return nil
	}
	if m.overlay == overlaySerial {
		return m.serial.Update(msg)
	}
	if m.overlay == overlayPanel {
		return m.pnl.Update(msg)
	}
	if m.overlay != overlayNone {
		return nil
	}
	mouse := msg.Mouse()
	if m.detailsLeft > 0 && mouse.X >= m.detailsLeft {
		switch msg.Button {
		case tea.MouseWheelUp:
			m.details.Scroll(-3)
		case tea.MouseWheelDown:
			m.details.Scroll(3)
		}
		return nil
	}
	cmd, _ := m.explorer.Update(msg)
	return cmd
}

// updateMarkers marks instances that have a tunnel open.
func (m *Model) updateMarkers() {
	marked := map[string]bool{}
	if m.c.Backend.Tunnels != nil {
		for _, t := range m.c.Backend.Tunnels.List() {
			marked[t.Target.Project+"/"+t.Target.Zone+"/"+t.Target.Instance] = true
		}
	}
	for k := range m.sessions.Counts() {
		marked[k] = true
	}
	m.explorer.SetMarked(marked)
}

// syncSelection points the details pane at the selected row; the command
// reads the project metadata the pane needs, when it is not known yet.
func (m *Model) syncSelection() tea.Cmd {
	r, ok := m.explorer.Selected()
	switch {
	case !ok:
		m.details.Clear()
	case r.Kind == explorer.InstanceRow:
		var ts []common.TunnelInfo
		if m.c.Backend.Tunnels != nil {
			for _, t := range m.tunnels.List() {
				if t.Target.Project == r.Project && t.Target.Zone == r.Zone && t.Target.Instance == r.Instance.Name {
					ts = append(ts, t)
				}
			}
		}
		m.details.SetInstance(*r.Instance, ts)
		pm, fetch := m.projectMetadata(r.Project)
		m.details.SetProjectMetadata(pm)
		return fetch
	default:
		p, _ := m.explorer.ProjectInfo(r.Project)
		m.details.SetProject(p, m.explorer.Warnings(r.Project))
	}
	return nil
}

// projMetaEntry caches one project's metadata; stale entries (the project
// was refreshed) are read again but shown until the new read returns.
type projMetaEntry struct {
	pm      details.ProjectMetadata
	loading bool
	stale   bool
}

type projectMetadataMsg struct {
	project string
	items   map[string]string
	err     error
}

// projectMetadataTimeout bounds one read; the pane shows the error after.
var projectMetadataTimeout = 30 * time.Second

// projectMetadata returns what is known of project's metadata and, when it
// must be read, the command that reads it.
func (m *Model) projectMetadata(project string) (details.ProjectMetadata, tea.Cmd) {
	reader := m.c.Backend.ProjectMetadata
	if reader == nil {
		return details.ProjectMetadata{Loaded: true, Err: details.ErrNoProjectMetadata}, nil
	}
	e := m.projMeta[project]
	if e == nil {
		e = &projMetaEntry{}
		m.projMeta[project] = e
	} else if e.loading || !e.stale {
		return e.pm, nil
	}
	e.loading = true
	ctx := m.c.Ctx
	return e.pm, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, projectMetadataTimeout)
		defer cancel()
		items, err := reader.ProjectMetadata(ctx, project)
		return projectMetadataMsg{project: project, items: items, err: err}
	}
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func hostOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// Layout ------------------------------------------------------------------

const (
	minTreeWidth    = 34
	detailsMinWidth = 30
)

// layout sizes the components for the current window.
func (m *Model) layout() {
	w, h := m.c.Width, m.c.Height
	mainH := h - 3 // header, status bar, help line
	if m.showTunnels {
		th := m.tunnelsHeight()
		mainH -= th + 2
	}
	if mainH < 3 {
		mainH = 3
	}
	treeW := w - 2
	detW := 0
	if w >= minTreeWidth+detailsMinWidth+4 {
		treeW = w * 45 / 100
		if treeW < minTreeWidth {
			treeW = minTreeWidth
		}
		if treeW > 60 {
			treeW = 60
		}
		detW = w - treeW - 4
	}
	m.expC.SetSize(treeW, mainH-2)
	m.explorer.SetSize(treeW, mainH-2)
	m.detC.SetSize(detW, mainH-2)
	m.tunC.SetSize(w-2, m.tunnelsHeight())
	m.treeTop, m.treeLeft, m.treeWidth, m.treeHeight = 2, 1, treeW, mainH-2
	m.detailsLeft = 0
	if detW > 0 {
		m.detailsLeft = treeW + 2
	}
}

func (m *Model) tunnelsHeight() int {
	th := m.tunnels.Height()
	if max := m.c.Height / 3; th > max {
		th = max
	}
	if th < 2 {
		th = 2
	}
	return th
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "iapterm"
	if m.opts.Mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

// Render returns the screen as a string (tests and benchmarks).
func (m *Model) Render() string { return m.render() }

func (m *Model) render() string {
	if m.quitting {
		return ""
	}
	if m.inSession && m.sessions.Len() > 0 {
		return m.sessions.View()
	}
	m.layout()
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height

	var base string
	if m.overlay == overlaySerial && m.serial != nil {
		sc := m.serial
		sc.SetSize(w, h-2)
		base = lipgloss.JoinVertical(lipgloss.Left, sc.View(), m.statusBar(), m.helpLine())
		return common.FitLines(base, w, h)
	}
	if m.overlay == overlayPanel && m.pnl != nil {
		m.pnl.SetSize(w, h-2)
		base = common.FitLines(lipgloss.JoinVertical(lipgloss.Left, m.pnl.View(), m.statusBar(), m.helpLine()), w, h)
		if m.errs.Visible() {
			return overlayCenter(base, m.errs.View(), w, h)
		}
		return base
	}

	parts := []string{m.header()}
	tree := m.explorer.View()
	treeStyle := st.PaneFocused
	if m.focus != focusExplorer {
		treeStyle = st.Pane
	}
	mainRow := treeStyle.Render(tree)
	if m.detailsLeft > 0 {
		mainRow = lipgloss.JoinHorizontal(lipgloss.Top, mainRow, st.Pane.Render(m.details.View()))
	}
	parts = append(parts, mainRow)
	if m.showTunnels {
		ts := st.Pane
		if m.focus == focusTunnels {
			ts = st.PaneFocused
		}
		parts = append(parts, ts.Render(m.tunnels.View(m.focus == focusTunnels)))
	}
	parts = append(parts, m.statusBar(), m.helpLine())
	base = common.FitLines(strings.Join(parts, "\n"), w, h)

	var over string
	switch {
	case m.errs.Visible():
		over = m.errs.View()
	case m.overlay == overlayMenu:
		over = m.menu.View()
	case m.overlay == overlayConfirm:
		over = m.confirm.View()
	case m.overlay == overlayPort:
		over = m.port.View()
	case m.overlay == overlayPicker:
		m.picker.SetSize(w, h)
		over = m.picker.View()
	case m.overlay == overlayHelp:
		over = m.fullHelp()
	}
	if over == "" {
		return base
	}
	return overlayCenter(base, over, w, h)
}

// overlayCenter draws box centred over base.
func overlayCenter(base, box string, w, h int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := (w-bw)/2, (h-bh)/2
	if x < 0 {
		x = 0
	}
	if y < 0 {
		y = 0
	}
	canvas := lipgloss.NewCanvas(w, h)
	canvas.Compose(lipgloss.NewCompositor(
		lipgloss.NewLayer(base),
		lipgloss.NewLayer(box).X(x).Y(y).Z(1),
	))
	return canvas.Render()
}

func (m *Model) header() string {
	st := m.c.Styles
	total, shown := m.explorer.Counts()
	n := len(m.explorer.Projects())
	left := st.Title.Render("iapterm") + st.Dim.Render(fmt.Sprintf("  %d project%s · %d instance%s", n, plural(n), total, plural(total)))
	if shown != total {
		left += st.Dim.Render(fmt.Sprintf(" · %d shown", shown))
	}
	lin, win := m.explorer.OSFilter()
	var hidden []string
	if !lin {
		hidden = append(hidden, "Linux")
	}
	if !win {
		hidden = append(hidden, "Windows")
	}
	if len(hidden) > 0 {
		left += st.Warning.Render(" · hiding " + strings.Join(hidden, " and "))
	}
	if f := m.explorer.FilterText(); f != "" && !m.explorer.Filtering() {
		left += st.Info.Render(" · filter: " + f)
	}
	return common.PadRight(left, m.c.Width)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (m *Model) statusBar() string {
	st := m.c.Styles
	account := m.opts.Account
	switch {
	case account == "" && m.opts.AccountSource != "":
		// Credentials came from somewhere, but the account's email could
		// not be read (a bare access token, say): not "not signed in".
		account = "account unknown"
	case account == "":
		account = "not signed in"
	}
	endpoint := m.opts.Endpoint
	if endpoint == "" {
		endpoint = "Google"
	}
	// Where the credentials came from is the first thing to go on a narrow
	// screen: the account and the endpoint (the emulator's address, which
	// the user may need for other commands) matter more.
	left := " " + account + " · " + endpoint
	withSource := left
	if m.opts.AccountSource != "" {
		withSource = " " + account + " (" + m.opts.AccountSource + ") · " + endpoint
	}
	var right string
	if n := m.loadingCount(); n > 0 {
		right = fmt.Sprintf("%s loading %d project%s", m.spin.View(), n, plural(n))
	} else if !m.refreshed.IsZero() {
		right = "refreshed " + m.refreshed.In(m.c.Now().Location()).Format("15:04:05")
	}
	if n := m.errs.Len(); n > 0 {
		right += fmt.Sprintf(" · %d error%s", n, plural(n))
	}
	if m.c.Backend.Tunnels != nil {
		if n := len(m.tunnels.List()); n > 0 {
			right = fmt.Sprintf("%d tunnel%s · ", n, plural(n)) + right
		}
	}
	if n := m.sessions.Len(); n > 0 {
		right = fmt.Sprintf("%d SSH tab%s (ctrl+]) · ", n, plural(n)) + right
	}
	right += " "
	if lipgloss.Width(withSource)+1+lipgloss.Width(right) <= m.c.Width {
		left = withSource
	}
	gap := m.c.Width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		left = common.Truncate(left, m.c.Width-lipgloss.Width(right)-1)
		gap = m.c.Width - lipgloss.Width(left) - lipgloss.Width(right)
		if gap < 0 {
			gap = 0
		}
	}
	return st.StatusBar.Render(common.PadRight(left+strings.Repeat(" ", gap)+right, m.c.Width))
}

func (m *Model) loadingCount() int {
	n := 0
	for _, c := range m.loading {
		if c > 0 {
			n++
		}
	}
	return n
}

// helpLine is the notice, when there is one, else the short help of the
// focused pane.
func (m *Model) helpLine() string {
	st := m.c.Styles
	if m.notice != "" {
		s := st.Info
		if m.noticeErr {
			s = st.Warning
		}
		return common.PadRight(s.Render(m.notice), m.c.Width)
	}
	m.help.SetWidth(m.c.Width)
	var km help.KeyMap = helpKeys{c: m.c, root: m.keys, exp: m.explorer.KeyMap, tabs: m.sessions.Len()}
	switch {
	case m.overlay == overlaySerial && m.serial != nil:
		km = m.serial.KeyMap
	case m.overlay == overlayPanel && m.pnl != nil:
		return common.PadRight(m.help.ShortHelpView(m.pnl.ShortHelp()), m.c.Width)
	case m.focus == focusTunnels:
		km = m.tunnels.KeyMap
	case m.explorer.Filtering():
		keys := m.help.ShortHelpView([]key.Binding{m.explorer.KeyMap.AcceptFilter, m.explorer.KeyMap.ClearFilter,
			key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "move"))})
		// The example terms that fit, rather than a list cut mid-word.
		for _, terms := range []string{" · terms: name env:prod status:running os:windows", " · terms: name env:prod status:running", " · terms: name env:prod"} {
			if lipgloss.Width(keys)+lipgloss.Width(terms) <= m.c.Width {
				keys += st.Dim.Render(terms)
				break
			}
		}
		return common.PadRight(keys, m.c.Width)
	}
	return common.PadRight(m.help.ShortHelpView(km.ShortHelp()), m.c.Width)
}

// fullHelp is every key binding, generated from the key maps and the
// actions registry, in as many columns as fit and scrolled when taller than
// the screen.
func (m *Model) fullHelp() string {
	st := m.c.Styles
	hk := helpKeys{c: m.c, root: m.keys, exp: m.explorer.KeyMap, tabs: m.sessions.Len()}
	groups := hk.FullHelp()
	titles := []string{"Navigate", "Explorer", "Panels", "Instance actions"}
	groups = append(groups, m.tunnels.KeyMap.ShortHelp())
	titles = append(titles, "Tunnels panel")
	section := func(i int) string {
		lines := []string{st.HelpSection.Render(titles[i])}
		for _, b := range groups[i] {
			hb := b.Help()
			if hb.Key == "" {
				continue
			}
			lines = append(lines, st.Key.Render(common.PadRight(hb.Key, 8))+" "+hb.Desc)
		}
		return strings.Join(lines, "\n")
	}
	// Columns: navigation+explorer, panels+tunnels, actions; fewer when narrow.
	stacks := [][]int{{0, 1}, {2, 4}, {3}}
	maxW := m.c.Width - 6
	var cols []string
	for _, s := range stacks {
		var parts []string
		for _, i := range s {
			parts = append(parts, section(i))
		}
		cols = append(cols, strings.Join(parts, "\n\n"))
	}
	var rows []string
	var row []string
	rowW := 0
	for _, c := range cols {
		cw := lipgloss.Width(c) + 2
		if rowW+cw > maxW && len(row) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, rowW = nil, 0
		}
		row = append(row, lipgloss.NewStyle().PaddingRight(2).Render(c))
		rowW += cw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	lines := strings.Split(strings.Join(rows, "\n\n"), "\n")
	avail := m.c.Height - 6
	if avail < 3 {
		avail = 3
	}
	footer := "Any other key closes this help."
	if len(lines) > avail {
		if max := len(lines) - avail; m.helpOffset > max {
			m.helpOffset = max
		}
		lines = lines[m.helpOffset : m.helpOffset+avail]
		footer = "↑/↓ scroll · any other key closes this help."
	} else {
		m.helpOffset = 0
	}
	// The box (2 columns of frame and padding each side) stays on screen
	// however narrow: long lines are cut rather than pushed off the edge.
	inner := max(m.c.Width-4, 10)
	for i, l := range lines {
		lines[i] = common.Truncate(l, inner)
	}
	body := st.DialogTitle.Render("Keys") + "\n" + strings.Join(lines, "\n") + "\n" + st.Dim.Render(common.Truncate(footer, inner))
	return st.Dialog.Render(body)
}

// updateSessions routes the SSH tabs' messages, and all input while a tab
// is shown (the tab decides what reaches the VM). done means msg is handled.
func (m *Model) updateSessions(msg tea.Msg) (cmd tea.Cmd, done bool) {
	switch msg := msg.(type) {
	case actions.SessionRequestedMsg:
		m.inSession = true
		return m.sessions.Open(msg.Instance), true
	case sessions.FocusExplorerMsg:
		m.inSession = false
		return nil, true
	case sessions.FullScreenRequestedMsg:
		m.inSession = false
		return actions.FullScreen(m.c, msg.Instance), true
	case sessions.ChangedMsg:
		m.updateMarkers()
		if m.sessions.Len() == 0 {
			m.inSession = false
		}
		return nil, true
	case sessions.EndedMsg:
		return m.update(actions.SessionEndedMsg{Title: "SSH to " + msg.Instance.Name}), true
	}
	if sessions.Owns(msg) {
		return m.sessions.Update(msg), true
	}
	if m.sessions.Len() == 0 {
		return nil, false
	}
	if !m.inSession {
		// The prefix key in the explorer goes back to the tabs.
		if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "ctrl+]" && m.overlay == overlayNone && !m.errs.Visible() {
			m.inSession = true
			return nil, true
		}
		return nil, false
	}
	switch msg.(type) {
	case tea.KeyPressMsg, tea.PasteMsg, tea.MouseMsg:
		return m.sessions.Update(msg), true
	}
	return nil, false
}

// instanceKey names an instance across projects and zones.
func instanceKey(inst projects.Instance) string {
	return inst.Project + "/" + inst.Zone + "/" + inst.Name
}
