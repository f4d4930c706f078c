// Package actions is the registry of things the user can do to an instance.
// Each action lives in its own file and registers a name, a key, a
// predicate saying when it applies and what it runs; the menu, the key
// handling and the help are all generated from this one list.
//
// The list is fixed once the package's init functions have run. What a UI
// can do (SSH tabs, for one) differs between models in the same process, so
// the lookups take the model's Common and skip the actions it lacks rather
// than anyone changing the list.
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
	// Available reports whether this UI offers the action at all (nil:
	// always); an unavailable action is left out of the menu, the keys and
	// the help, where one that does not apply to an instance is explained.
	Available func(c *common.Common) bool
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

// register adds a to the list; only init functions call it.
func register(a Action) {
	registry = append(registry, a)
	sort.SliceStable(registry, func(i, j int) bool { return registry[i].Order < registry[j].Order })
}

func (a Action) availableIn(c *common.Common) bool {
	return a.Available == nil || a.Available(c)
}

// All returns the actions c offers, in menu order.
func All(c *common.Common) []Action {
	var out []Action
	for _, a := range registry {
		if a.availableIn(c) {
			out = append(out, a)
		}
	}
	return out
}

// For returns the actions c offers that apply to inst.
func For(c *common.Common, inst projects.Instance) []Action {
	var out []Action
	for _, a := range registry {
		if a.availableIn(c) && (a.Applies == nil || a.Applies(inst)) {
			out = append(out, a)
		}
	}
	return out
}

// ByID finds an action c offers.
func ByID(c *common.Common, id string) (Action, bool) {
	for _, a := range registry {
		if a.ID == id && a.availableIn(c) {
			return a, true
		}
	}
	return Action{}, false
}

// Match returns the action c offers whose key is msg, whether or not it
// applies to the selection.
func Match(c *common.Common, msg tea.KeyPressMsg) (Action, bool) {
	for _, a := range registry {
		if len(a.Key.Keys()) > 0 && a.availableIn(c) && key.Matches(msg, a.Key) {
			return a, true
		}
	}
	return Action{}, false
}

// Bindings returns the key bindings of the actions c offers, for the help.
func Bindings(c *common.Common) []key.Binding {
	var out []key.Binding
	for _, a := range registry {
		if len(a.Key.Keys()) > 0 && a.availableIn(c) {
			out = append(out, a.Key)
		}
	}
	return out
}

func running(inst projects.Instance) bool { return inst.Status == "RUNNING" }

// notRunning says why an action needs a running VM and the key that
// gets it running.
func notRunning(inst projects.Instance) string {
	switch inst.Status {
	case "TERMINATED", "STOPPED":
		return inst.Name + " is " + inst.Status + "; start it first" + keyOf("power."+string(common.OpStart))
	case "SUSPENDED":
		return inst.Name + " is " + inst.Status + "; resume it first" + keyOf("power."+string(common.OpResume))
	}
	return inst.Name + " is " + inst.Status + "; wait until it is RUNNING (r refreshes)"
}

// keyOf is " (KEY)" for the registered action id, "" without a key.
func keyOf(id string) string {
	for _, a := range registry {
		if a.ID == id && a.Key.Help().Key != "" {
			return " (" + a.Key.Help().Key + ")"
		}
	}
	return ""
}

func errCmd(title string, err error, hint string) tea.Cmd {
	return func() tea.Msg { return common.ErrorRaisedMsg{Title: title, Err: err, Hint: hint} }
}
