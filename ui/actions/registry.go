// Package actions is the registry of things the user can do to an instance.
// Each action lives in its own file and registers a name, a key, a
// predicate saying when it applies and what it runs; the menu, the key
// handling and the help are all generated from this one list.
package actions

import (
	"sort"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// Action is one thing the user can do to an instance.
type Action struct {
	// ID is stable and used in tests, e.g. "tunnel.port".
	ID   string
	Name string
	// Key triggers the action from the explorer; a binding without keys
	// makes a menu-only action.
	Key key.Binding
	// Group orders and titles the menu sections.
	Group Group
	// Order sorts actions within the registry.
	Order int
	// Applies reports whether the action makes sense for inst; Why says why
	// not, for the message shown when its key is pressed anyway.
	Applies func(inst projects.Instance) bool
	Why     func(inst projects.Instance) string
	// Run returns the command that does the work (or opens a dialog).
	Run func(c *common.Common, inst projects.Instance) tea.Cmd
}

// Group is a section of the action menu.
type Group string

const (
	GroupConnect Group = "Connect"
	GroupPower   Group = "Power"
	GroupInspect Group = "Inspect"
	GroupCopy    Group = "Copy command"
)

var registry []Action

func register(a Action) {
	registry = append(registry, a)
	sort.SliceStable(registry, func(i, j int) bool { return registry[i].Order < registry[j].Order })
}

// All returns every registered action in menu order.
func All() []Action { return append([]Action(nil), registry...) }

// For returns the actions that apply to inst.
func For(inst projects.Instance) []Action {
	var out []Action
	for _, a := range registry {
		if a.Applies == nil || a.Applies(inst) {
			out = append(out, a)
		}
	}
	return out
}

// ByID finds an action.
func ByID(id string) (Action, bool) {
	for _, a := range registry {
		if a.ID == id {
			return a, true
		}
	}
	return Action{}, false
}

// Match returns the action whose key is msg, whether or not it applies.
func Match(msg tea.KeyPressMsg) (Action, bool) {
	for _, a := range registry {
		if len(a.Key.Keys()) > 0 && key.Matches(msg, a.Key) {
			return a, true
		}
	}
	return Action{}, false
}

// Bindings returns the key bindings of all actions, for the help.
func Bindings() []key.Binding {
	var out []key.Binding
	for _, a := range registry {
		if len(a.Key.Keys()) > 0 {
			out = append(out, a.Key)
		}
	}
	return out
}

func running(inst projects.Instance) bool { return inst.Status == "RUNNING" }

func notRunning(inst projects.Instance) string {
	return inst.Name + " is " + inst.Status + "; start it first"
}

func errCmd(title string, err error, hint string) tea.Cmd {
	return func() tea.Msg { return common.ErrorRaisedMsg{Title: title, Err: err, Hint: hint} }
}
