package world

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem in a world file, with the line it was found on (0 when
// the line is unknown, for example a missing top-level section).
type Error struct {
	File string
	Line int
	Path string // e.g. projects[1].instances[0].zone; empty for syntax errors
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one world file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads, parses, validates and fills in the defaults of a world file.
func Load(path string) (*World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading world file: %w", err)
	}
	w, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	// Files the world names are relative to the world file.
	for pi := range w.Projects {
		for ii := range w.Projects[pi].Instances {
			in := &w.Projects[pi].Instances[ii]
			if in.AuthorizedKeysFile != "" && !filepath.IsAbs(in.AuthorizedKeysFile) {
				in.AuthorizedKeysFile = filepath.Join(filepath.Dir(path), in.AuthorizedKeysFile)
				if abs, err := filepath.Abs(in.AuthorizedKeysFile); err == nil {
					in.AuthorizedKeysFile = abs
				}
			}
		}
	}
	return w, nil
}

// maxWorldSize bounds what Parse accepts, so a wrong file (a disk image, a
// log) fails fast instead of eating memory.
const maxWorldSize = 16 << 20

// Parse decodes a world from YAML or JSON (chosen by the file name's
// extension, else by the content), fills in defaults and validates it. Every
// error names filename and, where it can, the line.
func Parse(data []byte, filename string) (w *World, err error) {
	if filename == "" {
		filename = "world"
	}
	if len(data) > maxWorldSize {
		return nil, &Error{File: filename, Msg: fmt.Sprintf("file is %d bytes; a world file must be under %d", len(data), maxWorldSize)}
	}
	// The YAML library is not ours to audit: turn any panic on hostile input
	// into an error rather than a crash.
	defer func() {
		if r := recover(); r != nil {
			w, err = nil, &Error{File: filename, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	w = new(World)
	if isJSON(data, filename) {
		if err := decodeJSON(data, filename, w); err != nil {
			return nil, err
		}
	} else if err := decodeYAML(data, filename, w); err != nil {
		return nil, err
	}
	// JSON is YAML too, so one node tree serves both to find lines.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	if errs := fractions(&root, filename); len(errs) > 0 {
		return nil, errs
	}
	w.ApplyDefaults()
	if probs := w.validate(); len(probs) > 0 {
		errs := make(Errors, len(probs))
		for i, p := range probs {
			errs[i] = &Error{File: filename, Line: lineOf(&root, p.path), Path: p.pathString(), Msg: p.msg}
		}
		// In the file's order, as an editor walks it.
		slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, errs
	}
	return w, nil
}

func isJSON(data []byte, filename string) bool {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

func decodeJSON(data []byte, filename string, w *World) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(w)
	if err == nil {
		if dec.More() {
			return &Error{File: filename, Line: lineAt(data, dec.InputOffset()), Msg: "unexpected data after the top-level object"}
		}
		// encoding/json keeps the last of repeated keys without a word;
		// YAML refuses them, and so must JSON: one of the two is a mistake.
		return duplicateJSONKeys(data, filename)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &syn) && !errors.Is(err, io.EOF) {
		// JSON is YAML: the YAML decoder reports every unknown key and
		// wrong type with its path and a did-you-mean, where encoding/json
		// stops at the first with neither.
		if yerr := decodeYAML(data, filename, new(World)); yerr != nil {
			var es Errors
			if errors.As(yerr, &es) {
				// Paths come from lines, and a JSON line often holds
				// several keys: keep the line, drop the guess.
				for _, e := range es {
					e.Path = ""
				}
				return es
			}
		}
	}
	switch {
	case errors.As(err, &syn):
		return &Error{File: filename, Line: lineAt(data, syn.Offset), Msg: "invalid JSON: " + syn.Error()}
	case errors.As(err, &typ):
		return &Error{File: filename, Line: lineAt(data, typ.Offset), Path: typ.Field, Msg: fmt.Sprintf("expected %s, found a JSON %s", wanted(typ.Type.String()), typ.Value)}
	case errors.Is(err, io.EOF):
		return &Error{File: filename, Msg: "the file is empty; it needs at least users and projects"}
	}
	// Unknown fields and the like carry no offset; the decoder stopped at
	// the offending token.
	msg := err.Error()
	if key, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		msg = "unknown key " + key + " (the keys are listed in the README's World files section; names are case-sensitive)"
	}
	return &Error{File: filename, Line: lineAt(data, dec.InputOffset()), Msg: msg}
}

// duplicateJSONKeys reports every key repeated within one JSON object.
func duplicateJSONKeys(data []byte, filename string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]int // key -> line
		next   bool           // the next string token is a key
	}
	var stack []*frame
	var errs Errors
	for {
		tok, err := dec.Token()
		if err != nil {
			break // already decoded once: only io.EOF is expected
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, isString := tok.(string); isString && top != nil && top.object && top.next {
			line := lineAt(data, dec.InputOffset())
			if first, dup := top.keys[key]; dup {
				errs = append(errs, &Error{File: filename, Line: line, Msg: fmt.Sprintf("key %q is repeated in this object (first on line %d); keep one", key, first)})
			} else {
				top.keys[key] = line
			}
			top.next = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]int{}, next: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a key comes next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].next = true
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func decodeYAML(data []byte, filename string, w *World) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(w)
	if err == nil {
		// A second document would be ignored without a word.
		var next yaml.Node
		if dec.Decode(&next) == nil && len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
			return &Error{File: filename, Line: next.Content[0].Line, Msg: "a second YAML document starts here (after ---); a world file holds one: merge them"}
		}
		return nil
	}
	if errors.Is(err, io.EOF) {
		return &Error{File: filename, Msg: "the file is empty; it needs at least users and projects"}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root)
		errs := make(Errors, 0, len(te.Errors))
		for _, m := range te.Errors {
			e := yamlError(filename, m)
			if e.Line > 0 {
				e.Path = pathAtLine(&root, e.Line)
			}
			errs = append(errs, e)
		}
		return errs
	}
	return yamlError(filename, err.Error())
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError moves the "line N:" the YAML library puts in its messages into
// the Error's Line.
func yamlError(filename, msg string) *Error {
	e := &Error{File: filename}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = friendlyYAML(strings.TrimPrefix(msg, "yaml: "))
	return e
}

func lineAt(data []byte, offset int64) int {
	if offset < 0 {
		return 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// lineOf finds the line of the node at path (field names and list
// indexes), or of its closest existing ancestor.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return 0
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// Zone-to-region and similar helpers used by defaults and by the emulator.

// Region returns the region of a zone ("us-central1-a" -> "us-central1").
func Region(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// NetworkPath returns the full network name of network as written in project
// (a bare name, or already "projects/HOST/global/networks/NAME").
func NetworkPath(project, network string) string {
	if network == "" {
		network = "default"
	}
	if strings.HasPrefix(network, "projects/") {
		return network
	}
	return "projects/" + project + "/global/networks/" + network
}

// IsWindows reports whether the instance runs Windows.
func (in *Instance) IsWindows() bool { return strings.EqualFold(in.OS, "windows") }

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// ApplyDefaults fills in every field a file may leave out, the same way for
// the same file. Parse calls it; call it on a World built in code before
// Validate. It is idempotent.
func (w *World) ApplyDefaults() {
	ipIndex := uint32(0)
	used := map[string]bool{}
	for _, p := range w.Projects {
		for _, in := range p.Instances {
			used[in.InternalIP] = true
		}
	}
	for pi := range w.Projects {
		p := &w.Projects[pi]
		if p.Number == 0 {
			// Twelve digits, like real project numbers.
			p.Number = int64(100000000000 + hash64("project", p.ID)%900000000000)
		}
		if p.Name == "" {
			p.Name = p.ID
		}
		if p.State == "" {
			p.State = "ACTIVE"
		}
		for fi := range p.Firewalls {
			f := &p.Firewalls[fi]
			if f.Network == "" {
				f.Network = "default"
			}
			if f.Direction == "" {
				f.Direction = "INGRESS"
			}
			if f.Priority == nil {
				prio := 1000
				f.Priority = &prio
			}
		}
		for ii := range p.Instances {
			in := &p.Instances[ii]
			if in.ID == 0 {
				// Below 2^63 so every JSON consumer reads it back exactly.
				in.ID = 1000000000000000000 + hash64("instance", p.ID, in.Zone, in.Name)%(1<<62)
			}
			if in.Status == "" {
				in.Status = "RUNNING"
			}
			if in.OS == "" {
				in.OS = "linux"
			}
			in.OS = strings.ToLower(in.OS)
			if in.MachineType == "" {
				in.MachineType = "e2-medium"
			}
			if in.Network == "" {
				in.Network = "default"
			}
			if in.InternalIP == "" {
				// 10.128.0.2 onwards, in file order: unique within the world.
				for {
					v := uint32(10)<<24 | uint32(128)<<16 | 2 + ipIndex
					ipIndex++
					ip := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
					if !used[ip] {
						in.InternalIP = ip
						used[ip] = true
						break
					}
				}
			}
		}
	}
}
