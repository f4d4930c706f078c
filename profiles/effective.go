package profiles

import (
	"strconv"
	"time"
)

// Target is what settings are resolved for: an instance (all fields), or a
// zone, project or nothing (global) when the later fields are empty.
type Target struct {
	Project, Zone, Instance string
	Labels                  map[string]string
}

// Value is one effective setting and where it came from.
type Value struct {
	Setting Setting
	Text    string // "" when unset and without default
	Source  *Layer // the layer that set it; LevelDefault for defaults
	// Own is true when the node asked about set the value itself (shown in
	// bold in the settings view, as IAP Desktop does).
	Own bool
}

// Explain says where the value comes from.
func (v Value) Explain() string {
	switch {
	case v.Source.Kind == LevelDefault && v.Text == "":
		return "not set"
	case v.Source.Kind == LevelDefault:
		return "default"
	case v.Own:
		return "set here"
	}
	return "inherited from " + v.Source.Describe()
}

// Effective is the resolved settings for one target.
type Effective struct {
	values map[string]Value
	keys   []string
}

var defaultLayer = &Layer{Kind: LevelDefault}

// layersFor returns the layers that apply to t, least specific first.
func (c *Config) layersFor(t Target) []*Layer {
	ls := []*Layer{c.Global}
	if t.Project == "" {
		return ls
	}
	if l := c.Projects[t.Project]; l != nil {
		ls = append(ls, l)
	}
	if t.Zone == "" {
		return ls
	}
	for _, name := range []string{t.Zone, t.Project + "/" + t.Zone} {
		if l := c.Zones[name]; l != nil {
			ls = append(ls, l)
		}
	}
	if t.Instance == "" {
		return ls
	}
	for _, l := range c.Selectors {
		if l.selector.Matches(t.Labels) {
			ls = append(ls, l)
		}
	}
	for _, name := range []string{t.Instance, t.Project + "/" + t.Zone + "/" + t.Instance} {
		if l := c.Instances[name]; l != nil {
			ls = append(ls, l)
		}
	}
	return ls
}

// Resolve computes the effective settings for t, plus any extra layers
// (a profile's own settings) on top.
func (c *Config) Resolve(t Target, extra ...*Layer) Effective {
	layers := append(c.layersFor(t), extra...)
	own := Node{Project: t.Project, Zone: t.Zone, Instance: t.Instance}.level()
	e := Effective{values: map[string]Value{}}
	for _, s := range settings {
		e.keys = append(e.keys, s.Key)
		e.values[s.Key] = Value{Setting: s, Text: s.Default, Source: defaultLayer}
	}
	for _, l := range layers {
		for _, k := range sortedKeys(l.Values) {
			s, _ := Lookup(k)
			if _, seen := e.values[k]; !seen {
				e.keys = append(e.keys, k)
			}
			e.values[k] = Value{Setting: s, Text: l.Values[k], Source: l, Own: isOwn(l, own)}
		}
	}
	return e
}

// isOwn reports whether layer l belongs to a node at level own. Zone layers
// keyed by zone name alone and selector layers count as the instance's or
// zone's own only at their exact level.
func isOwn(l *Layer, own LayerKind) bool {
	switch l.Kind {
	case LevelGlobal:
		return own == LevelGlobal
	case LevelProject:
		return own == LevelProject
	case LevelZone:
		return own == LevelZone
	case LevelInstance:
		return own == LevelInstance
	}
	return false
}

// Keys lists the settings in display order.
func (e Effective) Keys() []string { return e.keys }

// Get returns the effective value of key.
func (e Effective) Get(key string) Value {
	if v, ok := e.values[key]; ok {
		return v
	}
	s, _ := Lookup(key)
	return Value{Setting: s, Source: defaultLayer}
}

// String returns the text of key.
func (e Effective) String(key string) string { return e.Get(key).Text }

// Int returns key as an int (0 when unset).
func (e Effective) Int(key string) int {
	n, _ := strconv.Atoi(e.Get(key).Text)
	return n
}

// Bool returns key as a bool.
func (e Effective) Bool(key string) bool {
	b, _ := strconv.ParseBool(e.Get(key).Text)
	return b
}

// Duration returns key as a duration (0 when unset).
func (e Effective) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(e.Get(key).Text)
	return d
}

// LocalPort returns the fixed local port configured for remote port, or 0.
func (e Effective) LocalPort(remote int) int {
	return e.Int(localPortPrefix + strconv.Itoa(remote))
}
