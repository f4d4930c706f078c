package profiles

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// App is a client application launched against a tunnel, like IAP Desktop's
// .iapc files: the tunnel lives while the process runs.
type App struct {
	Name        string
	Description string
	Condition   string // "linux", "windows" or "" for any instance
	RemotePort  int
	LocalPort   int // 0: the tunnel settings decide
	Executable  string
	Args        []string
	// NoTunnel marks apps that reach the VM on their own (VS Code
	// Remote-SSH through `iapterm ssh-config`), so no tunnel is opened.
	NoTunnel bool
	Builtin  bool
}

// Placeholders an app's arguments may use.
const appPlaceholders = "{host}, {port}, {username}, {instance}, {project}, {zone}"

// AppContext fills an app's placeholders.
type AppContext struct {
	Host, Username, Instance, Project, Zone string
	Port                                    int
}

// Command returns the executable and its arguments with placeholders filled,
// followed by extra arguments (from a profile).
func (a App) Command(ctx AppContext, extra []string) (string, []string) {
	r := strings.NewReplacer("{host}", ctx.Host, "{port}", strconv.Itoa(ctx.Port), "{username}", ctx.Username,
		"{instance}", ctx.Instance, "{project}", ctx.Project, "{zone}", ctx.Zone)
	args := make([]string, 0, len(a.Args)+len(extra))
	for _, arg := range a.Args {
		args = append(args, r.Replace(arg))
	}
	for _, arg := range extra {
		args = append(args, r.Replace(arg))
	}
	return r.Replace(a.Executable), args
}

// AppliesTo reports whether the app's condition allows an instance of os
// ("linux" or "windows").
func (a App) AppliesTo(os string) bool {
	return a.Condition == "" || strings.EqualFold(a.Condition, os)
}

// browserCommand opens a URL with the platform's default browser.
func browserCommand() (string, []string) {
	switch runtime.GOOS {
	case "darwin":
		return "open", nil
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler"}
	}
	return "xdg-open", nil
}

func builtinApps() map[string]App {
	open, openArgs := browserCommand()
	browser := func(name, scheme string, port int) App {
		return App{Name: name, Description: fmt.Sprintf("default browser on %s port %d", scheme, port), RemotePort: port,
			Executable: open, Args: append(append([]string{}, openArgs...), scheme+"://{host}:{port}/"), Builtin: true}
	}
	apps := []App{
		{Name: "psql", Description: "PostgreSQL shell", Condition: "linux", RemotePort: 5432, Executable: "psql",
			Args: []string{"--host={host}", "--port={port}", "--username={username}"}, Builtin: true},
		{Name: "mysql", Description: "MySQL shell", Condition: "linux", RemotePort: 3306, Executable: "mysql",
			Args: []string{"--protocol=TCP", "--host={host}", "--port={port}", "--user={username}"}, Builtin: true},
		browser("browser-80", "http", 80),
		browser("browser-8080", "http", 8080),
		browser("browser-443", "https", 443),
		{Name: "vscode", Description: "VS Code Remote-SSH (needs the Host blocks of `iapterm ssh-config`)", Condition: "linux", RemotePort: 22,
			Executable: "code", Args: []string{"--remote", "ssh-remote+{instance}", "/home/{username}"}, NoTunnel: true, Builtin: true},
	}
	m := make(map[string]App, len(apps))
	for _, a := range apps {
		m[a.Name] = a
	}
	return m
}

// apps reads [app.NAME] tables; they add to or replace the built-ins.
func (p *parser) apps(v any) error {
	tbl, ok := asTable(v)
	if !ok {
		return p.fail([]string{"app"}, "app must be tables like [app.psql]")
	}
	for _, name := range sortedKeys(tbl) {
		path := []string{"app", name}
		def, ok := asTable(tbl[name])
		if !ok {
			return p.fail(path, "app %q must be a table", name)
		}
		a := App{Name: name}
		r := fieldReader{p: p, path: path, m: def}
		a.Description = r.str("description")
		a.Condition = strings.ToLower(r.str("condition"))
		a.RemotePort = r.port("remote_port", 1)
		a.LocalPort = r.port("local_port", 0)
		a.Executable = r.str("executable")
		a.Args = r.strs("args")
		a.NoTunnel = r.boolean("no_tunnel")
		known := []string{"description", "condition", "remote_port", "local_port", "executable", "args", "no_tunnel"}
		r.unknown(known...)
		if r.err != nil {
			return r.err
		}
		hint := typoHint(r.unknownKeys(known...))
		if a.Condition != "" && a.Condition != "linux" && a.Condition != "windows" {
			return p.fail(append(path, "condition"), "app %q: condition must be \"linux\" or \"windows\", not %q", name, a.Condition)
		}
		if a.Executable == "" {
			return p.fail(path, "app %q needs an executable (arguments may use %s)%s", name, appPlaceholders, hint)
		}
		if a.RemotePort == 0 && !a.NoTunnel {
			return p.fail(path, "app %q needs a remote_port%s", name, hint)
		}
		p.c.Apps[name] = a
	}
	return nil
}

// fieldReader reads typed fields of one table, keeping the first error.
type fieldReader struct {
	p    *parser
	path []string
	m    map[string]any
	err  error
}

func (r *fieldReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = r.p.fail(append(append([]string{}, r.path...), key), format, args...)
	}
}

func (r *fieldReader) str(key string) string {
	v, ok := r.m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(key, "%s must be a string", key)
	}
	return s
}

// port reads a port number of at least least (1 for a port on the VM, 0
// for a local port, where 0 means any free port); 0 when key is absent.
func (r *fieldReader) port(key string, least int64) int {
	v, ok := r.m[key]
	if !ok {
		return 0
	}
	n, ok := v.(int64)
	if !ok || n < least || n > 65535 {
		if least == 0 {
			r.fail(key, "%s must be a port number between 1 and 65535 (or 0 for any free port)", key)
		} else {
			r.fail(key, "%s must be a port number between 1 and 65535", key)
		}
		return 0
	}
	return int(n)
}

func (r *fieldReader) boolean(key string) bool {
	v, ok := r.m[key]
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(key, "%s must be true or false", key)
	}
	return b
}

func (r *fieldReader) strs(key string) []string {
	v, ok := r.m[key]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		r.fail(key, "%s must be a list of strings", key)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			r.fail(key, "%s must be a list of strings", key)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// unknown warns about keys outside known; they stay in the file untouched.
func (r *fieldReader) unknown(known ...string) {
	for _, k := range r.unknownKeys(known...) {
		r.p.c.Warnings = append(r.p.c.Warnings, r.p.at(append(append([]string{}, r.path...), k), fmt.Sprintf("unknown key %q is ignored", k)))
	}
}

// unknownKeys lists the table's keys that are not among known.
func (r *fieldReader) unknownKeys(known ...string) []string {
	var out []string
	for _, k := range sortedKeys(r.m) {
		if !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	return out
}

// typoHint is added to an error about a table that also has unknown keys:
// a missing key is often one of them misspelt, and the warning that would
// name it is lost with the error.
func typoHint(unknown []string) string {
	if len(unknown) == 0 {
		return ""
	}
	q := make([]string, len(unknown))
	for i, k := range unknown {
		q[i] = strconv.Quote(k)
	}
	return fmt.Sprintf(" (the table also has the unknown key(s) %s: check their spelling)", strings.Join(q, ", "))
}
