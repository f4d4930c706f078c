package profiles

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/pelletier/go-toml/v2"

	"iapterm/auth"
)

// Node is a place in the explorer whose settings can be edited: all fields
// empty is global; Project alone a project; with Zone a zone; with Instance
// an instance.
type Node struct{ Project, Zone, Instance string }

func (n Node) level() LayerKind {
	switch {
	case n.Instance != "":
		return LevelInstance
	case n.Zone != "":
		return LevelZone
	case n.Project != "":
		return LevelProject
	}
	return LevelGlobal
}

// tablePath is where a node's setting lives in the file.
func (n Node) tablePath(key string) ([]string, error) {
	var base []string
	switch n.level() {
	case LevelGlobal:
		base = []string{"settings"}
	case LevelProject:
		base = []string{"project", n.Project}
	case LevelZone:
		if n.Project == "" {
			return nil, fmt.Errorf("a zone node needs its project")
		}
		base = []string{"zone", n.Project + "/" + n.Zone}
	case LevelInstance:
		if n.Project == "" || n.Zone == "" {
			return nil, fmt.Errorf("an instance node needs its project and zone")
		}
		base = []string{"instance", n.Project + "/" + n.Zone + "/" + n.Instance}
	}
	if rest, ok := strings.CutPrefix(key, localPortPrefix); ok {
		return append(base, "tunnel", "local_ports", rest), nil
	}
	cat, name, ok := strings.Cut(key, ".")
	if !ok {
		return nil, fmt.Errorf("setting %q has no category", key)
	}
	return append(base, cat, name), nil
}

// Set changes one setting at a node. Only the bytes of that key change: the
// rest of the file, comments and unknown keys included, stays as it was. The
// previous file is kept as config.toml.bak and the write is atomic.
func (c *Config) Set(n Node, key, value string) error {
	s, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("unknown setting %q: %s", key, unknownSettingHint(key))
	}
	text, err := s.Normalize(value)
	if err != nil {
		return err
	}
	path, err := n.tablePath(key)
	if err != nil {
		return err
	}
	enc, err := encodeValue(s.tomlValue(text))
	if err != nil {
		return err
	}
	return c.edit(func(idx *docIndex, data []byte) ([]byte, error) { return setKey(idx, data, path, enc) })
}

// Reset removes a node's own value for key so it inherits again.
func (c *Config) Reset(n Node, key string) error {
	if _, ok := Lookup(key); !ok {
		return fmt.Errorf("unknown setting %q: %s", key, unknownSettingHint(key))
	}
	path, err := n.tablePath(key)
	if err != nil {
		return err
	}
	return c.edit(func(idx *docIndex, data []byte) ([]byte, error) {
		s, ok := idx.find(path)
		if !ok {
			return data, nil
		}
		from := startOfLine(data, s.start)
		to := endOfLine(data, s.end)
		return append(append([]byte{}, data[:from]...), data[to:]...), nil
	})
}

// edit applies change to the file's current bytes, checks the result still
// loads, keeps a backup and writes atomically, then reloads c.
func (c *Config) edit(change func(*docIndex, []byte) ([]byte, error)) error {
	if c.Path == "" {
		return fmt.Errorf("this configuration has no file to edit")
	}
	current, err := os.ReadFile(c.Path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", c.Path, err)
	}
	// The file may have changed since it was loaded (edited by hand while
	// the settings view is open): check what is there now.
	if len(current) > 0 && (c.raw == nil || !bytes.Equal(current, c.raw)) {
		if _, perr := Parse(current, c.Path); perr != nil {
			return fmt.Errorf("%s does not load, so it is not edited: %w", c.Path, perr)
		}
	}
	idx, err := indexDocument(current)
	if err != nil {
		return fmt.Errorf("%s does not load, so it is not edited: %w", c.Path, err)
	}
	updated, err := change(idx, current)
	if err != nil {
		return err
	}
	if crlfOnly(current) {
		// A file with Windows line endings keeps them: the lines added
		// end like the others.
		updated = toCRLF(updated)
	}
	if bytes.Equal(updated, current) {
		return nil
	}
	next, err := Parse(updated, c.Path)
	if err != nil {
		return fmt.Errorf("the edit would make %s invalid, so it was not written: %w", c.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(c.Path), err)
	}
	if len(current) > 0 {
		if err := writeAtomic(c.Path+".bak", current); err != nil {
			return fmt.Errorf("keeping a backup of %s: %w", c.Path, err)
		}
	}
	if err := writeAtomic(c.Path, updated); err != nil {
		return err
	}
	path := c.Path
	*c = *next
	c.Path = path
	return nil
}

// crlfOnly reports whether every line of data ends with \r\n.
func crlfOnly(data []byte) bool {
	n := bytes.Count(data, []byte("\n"))
	return n > 0 && n == bytes.Count(data, []byte("\r\n"))
}

// toCRLF turns the line feeds of data that lack a carriage return into
// \r\n.
func toCRLF(data []byte) []byte {
	out := make([]byte, 0, len(data)+bytes.Count(data, []byte("\n")))
	for i, b := range data {
		if b == '\n' && (i == 0 || data[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	return out
}

// setKey returns data with path set to the encoded value enc.
func setKey(idx *docIndex, data []byte, path []string, enc string) ([]byte, error) {
	if s, ok := idx.find(path); ok {
		return splice(data, s.keyEnd, s.end, " = "+enc), nil
	}
	prefix, name := path[:len(path)-1], path[len(path)-1]
	for _, s := range idx.stmts {
		if !s.arrayElem && len(s.path) < len(path) && joinPath(s.path) == joinPath(path[:len(s.path)]) {
			return nil, fmt.Errorf("%s is written as an inline value on line %d; change it there by hand", strings.Join(s.path, "."), s.line)
		}
	}
	// A sibling key in the same table: insert after the last one, written the
	// same way (so dotted keys stay dotted).
	var sib *stmt
	for i := range idx.stmts {
		s := idx.stmts[i]
		if !s.arrayElem && len(s.path) == len(path) && joinPath(s.path[:len(prefix)]) == joinPath(prefix) {
			sib = &idx.stmts[i]
		}
	}
	if sib != nil {
		keyText := string(data[sib.start:sib.lastPart[0]]) + encodeKeyPart(name)
		at := endOfLine(data, sib.end)
		return splice(data, at, at, ensureNewlineBefore(data, at)+keyText+" = "+enc+"\n"), nil
	}
	// The table's header exists: insert after its last key.
	for ti, t := range idx.tables {
		if t.array || joinPath(t.path) != joinPath(prefix) {
			continue
		}
		at := t.lineEnd
		for _, s := range idx.stmts {
			if s.tableIdx == ti {
				at = endOfLine(data, s.end)
			}
		}
		return splice(data, at, at, ensureNewlineBefore(data, at)+encodeKeyPart(name)+" = "+enc+"\n"), nil
	}
	var b strings.Builder
	if len(data) > 0 {
		if data[len(data)-1] != '\n' {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	parts := make([]string, len(prefix))
	for i, p := range prefix {
		parts[i] = encodeKeyPart(p)
	}
	fmt.Fprintf(&b, "[%s]\n%s = %s\n", strings.Join(parts, "."), encodeKeyPart(name), enc)
	return append(append([]byte{}, data...), b.String()...), nil
}

func ensureNewlineBefore(data []byte, at int) string {
	if at > 0 && data[at-1] != '\n' {
		return "\n"
	}
	return ""
}

func splice(data []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(data)+len(s))
	out = append(out, data[:from]...)
	out = append(out, s...)
	return append(out, data[to:]...)
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func encodeKeyPart(p string) string {
	if bareKey.MatchString(p) {
		return p
	}
	enc, _ := encodeValue(p)
	return enc
}

// encodeValue writes one TOML value: plain strings as basic strings in
// double quotes (as people write them), anything else with go-toml's encoder.
func encodeValue(v any) (string, error) {
	if s, ok := v.(string); ok && !strings.ContainsFunc(s, unicode.IsControl) {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
	}
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "v = ")), nil
}

// writeAtomic writes data to path through a temporary file and a rename,
// with mode 0600. A path that is a symbolic link (a config file kept in a
// dotfiles repository) is written where the link points, also when that
// file does not exist yet: renaming over the link itself would replace it
// with a copy and leave the real file behind. A link whose target's folder
// does not exist is refused rather than replaced.
func writeAtomic(path string, data []byte) error {
	target, err := linkTarget(path)
	if err != nil {
		return err
	}
	if target != path {
		dir := filepath.Dir(target)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s is a symbolic link to %s, whose folder %s does not exist: create that folder, or remove the link to keep the file at %s itself", path, target, dir, path)
		}
	}
	return auth.WriteFileAtomic(target, data, 0o600)
}

// linkTarget follows path's symbolic links to the file they name, which
// may not exist yet (a dangling link), and returns path itself when it is
// not a link.
func linkTarget(path string) (string, error) {
	p := path
	for range 40 {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("reading the symbolic link %s: %w", p, err)
		}
		if !filepath.IsAbs(dest) {
			// Relative to the link's real folder, as the system reads it.
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				dir = filepath.Dir(p)
			}
			dest = filepath.Join(dir, dest)
		}
		p = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}
