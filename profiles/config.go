package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EnvConfig overrides the config file's location.
const EnvConfig = "IAPTERM_CONFIG"

// DefaultPath is os.UserConfigDir()/iapterm/config.toml, or $IAPTERM_CONFIG.
func DefaultPath() (string, error) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory: %w (set %s to a file path)", err, EnvConfig)
	}
	return filepath.Join(dir, "iapterm", "config.toml"), nil
}

// Error is a problem in the config file, located by line and column.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			loc += ":" + strconv.Itoa(e.Column)
		}
	}
	return loc + ": " + e.Msg
}

// LayerKind orders the layers from least to most specific.
type LayerKind int

const (
	LevelDefault LayerKind = iota
	LevelGlobal
	LevelProject
	LevelZone
	LevelSelector
	LevelInstance
	LevelProfile
)

// Layer is one set of settings that applies to some targets.
type Layer struct {
	Kind LayerKind
	// Name is the project ID, "PROJECT/ZONE" or "ZONE", the label selector,
	// the instance "NAME" or "PROJECT/ZONE/NAME", or the profile name.
	Name     string
	Values   map[string]string // canonical text by setting key
	selector Selector
}

// Describe names the layer for "inherited from ..." explanations.
func (l *Layer) Describe() string {
	switch l.Kind {
	case LevelDefault:
		return "default"
	case LevelGlobal:
		return "global settings"
	case LevelProject:
		return "project " + l.Name
	case LevelZone:
		return "zone " + l.Name
	case LevelSelector:
		return "instances labelled " + l.Name
	case LevelInstance:
		return "instance " + l.Name
	case LevelProfile:
		return "profile " + l.Name
	}
	return "?"
}

// Config is a parsed config file. It is never written back wholesale: edits
// change only the lines of the keys they touch (see Set).
type Config struct {
	Path      string
	raw       []byte
	Global    *Layer
	Projects  map[string]*Layer
	Zones     map[string]*Layer
	Selectors []*Layer
	Instances map[string]*Layer
	Profiles  []Profile
	Apps      map[string]App
	// Warnings are problems that did not stop the file from loading, such
	// as unknown settings (which are kept in the file untouched).
	Warnings []string
}

// Empty returns a config with no file behind it: every value is the default.
func Empty(path string) *Config {
	c := &Config{Path: path, Global: &Layer{Kind: LevelGlobal, Values: map[string]string{}},
		Projects: map[string]*Layer{}, Zones: map[string]*Layer{}, Instances: map[string]*Layer{}}
	c.Apps = builtinApps()
	return c
}

// Load reads and parses the config file at path. A missing file is an empty
// config, not an error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Empty(path), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// LoadOrLastGood loads path. When the file is broken it returns the settings
// of the last version that loaded (kept beside it as .last-good) together
// with the error, so the program can start and show what is wrong. The
// broken file is never touched.
func LoadOrLastGood(path string) (*Config, error) {
	c, err := Load(path)
	lastGood := path + ".last-good"
	if err == nil {
		if len(c.raw) > 0 {
			if prev, rerr := os.ReadFile(lastGood); rerr != nil || string(prev) != string(c.raw) {
				_ = writeAtomic(lastGood, c.raw)
			}
		}
		return c, nil
	}
	if data, rerr := os.ReadFile(lastGood); rerr == nil {
		if good, perr := Parse(data, lastGood); perr == nil {
			good.Path = path
			good.raw = nil // never edit through a fallback
			return good, fmt.Errorf("%w (using the last settings that loaded)", err)
		}
	}
	e := Empty(path)
	e.raw = nil
	return e, fmt.Errorf("%w (using default settings)", err)
}

// Parse parses a config file's bytes; filename is used in messages.
func Parse(data []byte, filename string) (*Config, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, &Error{File: filename, Line: line, Column: col, Msg: de.Error() + ": fix the TOML syntax"}
		}
		return nil, &Error{File: filename, Msg: err.Error()}
	}
	idx, err := indexDocument(data)
	if err != nil {
		return nil, &Error{File: filename, Msg: err.Error()}
	}
	c := Empty(filename)
	c.raw = data
	p := parser{c: c, idx: idx, file: filename}
	for _, top := range sortedKeys(doc) {
		v := doc[top]
		var err error
		switch top {
		case "settings":
			err = p.layer(c.Global, []string{top}, v)
		case "project", "zone", "instance", "selector":
			err = p.named(top, v)
		case "profile":
			err = p.profiles(v)
		case "app":
			err = p.apps(v)
		default:
			c.Warnings = append(c.Warnings, p.at([]string{top}, fmt.Sprintf("unknown section %q is ignored (known: settings, project, zone, instance, selector, profile, app)", top)))
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

type parser struct {
	c    *Config
	idx  *docIndex
	file string
}

func (p *parser) fail(path []string, format string, args ...any) error {
	return &Error{File: p.file, Line: p.idx.line(path), Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) at(path []string, msg string) string {
	return (&Error{File: p.file, Line: p.idx.line(path), Msg: msg}).Error()
}

func asTable(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func (p *parser) named(kind string, v any) error {
	tbl, ok := asTable(v)
	if !ok {
		return p.fail([]string{kind}, "%s must be a table like [%s.NAME.ssh]", kind, kind)
	}
	for _, name := range sortedKeys(tbl) {
		path := []string{kind, name}
		var l *Layer
		switch kind {
		case "project":
			l = &Layer{Kind: LevelProject, Name: name}
			p.c.Projects[name] = l
		case "zone":
			l = &Layer{Kind: LevelZone, Name: name}
			p.c.Zones[name] = l
		case "instance":
			l = &Layer{Kind: LevelInstance, Name: name}
			p.c.Instances[name] = l
		case "selector":
			sel, err := ParseSelector(name)
			if err != nil {
				return p.fail(path, "%v", err)
			}
			l = &Layer{Kind: LevelSelector, Name: name, selector: sel}
			p.c.Selectors = append(p.c.Selectors, l)
		}
		if err := p.layer(l, path, tbl[name]); err != nil {
			return err
		}
	}
	// Selectors apply in the order they appear in the file.
	sort.SliceStable(p.c.Selectors, func(i, j int) bool {
		return p.idx.line([]string{"selector", p.c.Selectors[i].Name}) < p.idx.line([]string{"selector", p.c.Selectors[j].Name})
	})
	return nil
}

// layer reads {category: {name: value}} into l.Values.
func (p *parser) layer(l *Layer, path []string, v any) error {
	if l.Values == nil {
		l.Values = map[string]string{}
	}
	tbl, ok := asTable(v)
	if !ok {
		return p.fail(path, "%s must be a table of categories (ssh, rdp, tunnel, ui)", strings.Join(path, "."))
	}
	for _, cat := range sortedKeys(tbl) {
		catPath := append(slices.Clone(path), cat)
		entries, ok := asTable(tbl[cat])
		if !ok {
			p.c.Warnings = append(p.c.Warnings, p.at(catPath, fmt.Sprintf("%s is not a settings category table; ignored", strings.Join(catPath, "."))))
			continue
		}
		for _, name := range sortedKeys(entries) {
			keyPath := append(slices.Clone(catPath), name)
			key := cat + "." + name
			if key == "tunnel.local_ports" {
				ports, ok := asTable(entries[name])
				if !ok {
					return p.fail(keyPath, "tunnel.local_ports must be a table like { 5432 = 15432 }")
				}
				for _, remote := range sortedKeys(ports) {
					if err := p.value(l, append(slices.Clone(keyPath), remote), localPortPrefix+remote, ports[remote]); err != nil {
						return err
					}
				}
				continue
			}
			if err := p.value(l, keyPath, key, entries[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) value(l *Layer, path []string, key string, v any) error {
	s, ok := Lookup(key)
	if !ok {
		p.c.Warnings = append(p.c.Warnings, p.at(path, fmt.Sprintf("unknown setting %s is ignored (%s)", key, unknownSettingHint(key))))
		return nil
	}
	text, err := s.Normalize(v)
	if err != nil {
		return p.fail(path, "%v", err)
	}
	l.Values[key] = text
	return nil
}

// Raw returns the bytes the config was parsed from.
func (c *Config) Raw() []byte { return c.raw }
