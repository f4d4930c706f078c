package profiles

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Profile is a saved connection: a target, what to open, and settings.
type Profile struct {
	Name string
	// The target: Project and Zone with Instance, or Selector (a label
	// selector that picks a RUNNING instance in Project).
	Project, Zone, Instance string
	Selector                string
	// Protocol is "ssh", "rdp" or "tunnel"; App names a client application
	// instead.
	Protocol   string
	App        string
	RemotePort int // for tunnels (and to override the app's)
	LocalPort  int
	Args       []string // extra arguments for the app
	Settings   *Layer
	sel        Selector
}

// MatchInstance reports whether a candidate (project, zone, name, labels)
// is this profile's target.
func (p Profile) MatchInstance(project, zone, name string, labels map[string]string) bool {
	if p.Project != "" && p.Project != project {
		return false
	}
	if p.Zone != "" && p.Zone != zone {
		return false
	}
	if p.Instance != "" {
		return p.Instance == name
	}
	return p.sel.Matches(labels)
}

// Profile returns the saved profile called name.
func (c *Config) Profile(name string) (Profile, error) {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, 0, len(c.Profiles))
	for _, p := range c.Profiles {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return Profile{}, fmt.Errorf("no profile %q: %s defines no profiles; add a [[profile]] table", name, c.Path)
	}
	return Profile{}, fmt.Errorf("no profile %q in %s; profiles: %s", name, c.Path, strings.Join(names, ", "))
}

// App returns the client application called name.
func (c *Config) App(name string) (App, error) {
	if a, ok := c.Apps[name]; ok {
		return a, nil
	}
	return App{}, fmt.Errorf("no client application %q; known: %s (define more as [app.NAME])", name, strings.Join(sortedKeys(c.Apps), ", "))
}

func (p *parser) profiles(v any) error {
	list, ok := v.([]any)
	if !ok {
		return p.fail([]string{"profile"}, "profiles are written as [[profile]] tables")
	}
	seen := map[string]bool{}
	for i, item := range list {
		def, ok := asTable(item)
		if !ok {
			return p.fail([]string{"profile"}, "profile %d must be a table", i+1)
		}
		path := []string{"profile"}
		r := fieldReader{p: p, path: path, m: def}
		pr := Profile{Name: r.str("name"), Project: r.str("project"), Zone: r.str("zone"), Instance: r.str("instance"),
			Selector: r.str("selector"), Protocol: strings.ToLower(r.str("protocol")), App: r.str("app"),
			RemotePort: r.port("remote_port", 1), LocalPort: r.port("local_port", 0), Args: r.strs("args")}
		if r.err != nil {
			return r.err
		}
		where := fmt.Sprintf("profile %d", i+1)
		if pr.Name != "" {
			where = fmt.Sprintf("profile %q", pr.Name)
		}
		known := []string{"name", "project", "zone", "instance", "selector", "protocol", "app", "remote_port", "local_port", "args", "ssh", "rdp", "tunnel"}
		hint := typoHint(r.unknownKeys(known...))
		pathErr := func(format string, args ...any) error {
			return &Error{File: p.file, Line: p.profileLine(i), Msg: where + ": " + fmt.Sprintf(format, args...) + hint}
		}
		switch {
		case pr.Name == "":
			return pathErr("needs a name")
		case seen[pr.Name]:
			return pathErr("the name is used twice")
		case pr.Instance == "" && pr.Selector == "":
			return pathErr("needs an instance (with project and zone) or a label selector")
		case pr.Instance != "" && pr.Selector != "":
			return pathErr("has both instance and selector; keep one")
		case pr.Project == "":
			return pathErr("needs a project")
		case pr.Instance != "" && pr.Zone == "":
			return pathErr("needs the zone of instance %q", pr.Instance)
		case pr.App == "" && pr.Protocol == "":
			return pathErr("needs a protocol (ssh, rdp, tunnel) or an app")
		case pr.App != "" && pr.Protocol != "":
			return pathErr("has both protocol and app; keep one")
		case pr.Protocol != "" && pr.Protocol != "ssh" && pr.Protocol != "rdp" && pr.Protocol != "tunnel":
			return pathErr("protocol must be ssh, rdp or tunnel, not %q", pr.Protocol)
		case pr.Protocol == "tunnel" && pr.RemotePort == 0:
			return pathErr("a tunnel profile needs remote_port")
		}
		if pr.App != "" {
			// [app] sorts before [profile], so user apps are known here.
			if _, ok := p.c.Apps[pr.App]; !ok {
				return pathErr("unknown app %q; known: %s", pr.App, strings.Join(sortedKeys(p.c.Apps), ", "))
			}
		}
		if pr.Selector != "" {
			sel, err := ParseSelector(pr.Selector)
			if err != nil {
				return pathErr("%v", err)
			}
			pr.sel = sel
		}
		pr.Settings = &Layer{Kind: LevelProfile, Name: pr.Name, Values: map[string]string{}}
		cats := map[string]any{}
		for _, k := range []string{"ssh", "rdp", "tunnel"} {
			if v, ok := def[k]; ok {
				cats[k] = v
			}
		}
		if err := p.layer(pr.Settings, path, cats); err != nil {
			return err
		}
		r.unknown(known...)
		seen[pr.Name] = true
		p.c.Profiles = append(p.c.Profiles, pr)
	}
	return nil
}

// profileLine is the line of the i-th [[profile]] header.
func (p *parser) profileLine(i int) int {
	n := 0
	for _, t := range p.idx.tables {
		if t.array && len(t.path) == 1 && t.path[0] == "profile" {
			if n == i {
				return t.line
			}
			n++
		}
	}
	return 0
}

// AddProfile appends a [[profile]] table to the file, leaving the rest as is.
func (c *Config) AddProfile(pr Profile) error {
	if _, err := c.Profile(pr.Name); err == nil {
		return fmt.Errorf("a profile called %q exists already", pr.Name)
	}
	var b strings.Builder
	b.WriteString("\n[[profile]]\n")
	field := func(k string, v any) {
		if s, ok := v.(string); ok && s == "" {
			return
		}
		if n, ok := v.(int); ok && n == 0 {
			return
		}
		enc, _ := encodeValue(v)
		fmt.Fprintf(&b, "%s = %s\n", k, enc)
	}
	field("name", pr.Name)
	field("project", pr.Project)
	field("zone", pr.Zone)
	field("instance", pr.Instance)
	field("selector", pr.Selector)
	field("protocol", pr.Protocol)
	field("app", pr.App)
	field("remote_port", pr.RemotePort)
	field("local_port", pr.LocalPort)
	if len(pr.Args) > 0 {
		field("args", pr.Args)
	}
	return c.edit(func(_ *docIndex, data []byte) ([]byte, error) {
		out := append([]byte{}, data...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		table := b.String()
		if len(bytes.TrimSpace(out)) == 0 {
			// The first thing in the file: no blank line before it.
			out, table = nil, strings.TrimPrefix(table, "\n")
		}
		return append(out, table...), nil
	})
}
