package world

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// keysOf lists the keys a world type takes, by the type's name as the YAML
// library prints it (world.Instance), for "unknown key" messages.
var keysOf = func() map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || out[t.String()] != nil {
			return
		}
		var keys []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys = append(keys, name)
		}
		out[t.String()] = keys
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeFor[World]())
	return out
}()

// describe names what a world type is in a user's words.
func describe(typ string) string {
	switch typ {
	case "world.World":
		return "the top level"
	case "world.User":
		return "a user"
	case "world.Project":
		return "a project"
	case "world.Instance":
		return "an instance"
	case "world.Firewall":
		return "a firewall rule"
	case "world.Rule":
		return "an allowed or denied entry"
	case "world.Binding":
		return "an IAM binding"
	case "world.Condition":
		return "a condition"
	}
	return typ
}

// wanted names what a Go type holds in a user's words.
func wanted(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "world."), strings.HasPrefix(goType, "*world."):
		return "a mapping (key: value)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "*int"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	}
	return goType
}

var yamlTags = map[string]string{
	"!!str": "the text", "!!int": "the number", "!!float": "the number", "!!bool": "the boolean",
	"!!seq": "a list", "!!map": "a mapping", "!!null": "nothing",
}

var (
	unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	digitsRe       = regexp.MustCompile(`^-?[0-9]+(\.\.\.)?$`)
	cannotRe       = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

// friendlyYAML rewrites the YAML library's messages about keys and types,
// which name Go types, into what the file's author wrote and should write.
func friendlyYAML(msg string) string {
	if m := unknownFieldRe.FindStringSubmatch(msg); m != nil {
		key, typ := m[1], m[2]
		keys := keysOf[typ]
		out := fmt.Sprintf("unknown key %q in %s", key, describe(typ))
		if s := closest(key, keys); s != "" {
			return out + fmt.Sprintf(" (did you mean %s?)", s)
		}
		if len(keys) > 0 {
			return out + "; the keys are " + strings.Join(keys, ", ")
		}
		return out
	}
	if m := cannotRe.FindStringSubmatch(msg); m != nil {
		// YAML reads digits too large for 64 bits as a float.
		if (m[1] == "!!int" || m[1] == "!!float" && digitsRe.MatchString(m[2])) && wanted(m[3]) == "a whole number" {
			// A number, but not one that fits: say which ones do.
			return fmt.Sprintf("%s is out of range: %s", m[2], numberRange(m[3]))
		}
		found := yamlTags[m[1]]
		if found == "" {
			found = m[1]
		}
		if m[2] != "" {
			found += fmt.Sprintf(" %q", m[2])
		}
		return fmt.Sprintf("expected %s, found %s", wanted(m[3]), found)
	}
	return msg
}

// numberRange tells which whole numbers a Go integer type holds.
func numberRange(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "uint64":
		return "use a whole number from 1 to 18446744073709551615 (0 or leave it out for the default)"
	case "int":
		return "ports are 1-65535, priorities 0-65535, serial ports 1-4"
	}
	return "use a whole number from 1 to 9223372036854775807"
}

// closest returns the key that differs from s only in case or by at most
// two edits, if there is one.
func closest(s string, keys []string) string {
	best, bestD := "", 3
	for _, k := range keys {
		if strings.EqualFold(k, s) {
			return k
		}
		if d := distance(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// pathAtLine returns the path (projects[0].instances[1].status) of the
// first key written on line, or "" when no key starts there. With flow
// style ({a: 1, b: 2}) the problem is inside that key's value.
func pathAtLine(n *yaml.Node, line int) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var found []any
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := at(path, k.Value)
				if k.Line == line && found == nil {
					found = p
				}
				if k.Line <= line {
					walk(v, p)
				}
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				if v.Line == line && found == nil && v.Kind == yaml.ScalarNode {
					found = at(path, i)
				}
				if v.Line <= line {
					walk(v, at(path, i))
				}
			}
		}
	}
	walk(n, nil)
	return problem{path: found}.pathString()
}

// fractions finds numbers with a fraction where the world wants a whole
// number: the YAML library truncates them (priority: 1000.5 becomes 1000,
// a backend on port 22.5 goes to port 22) without a word.
func fractions(root *yaml.Node, filename string) Errors {
	var errs Errors
	check := func(n *yaml.Node, t reflect.Type, path []any) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
				errs = append(errs, &Error{File: filename, Line: n.Line, Path: problem{path: path}.pathString(),
					Msg: fmt.Sprintf("%s must be a whole number, written without a decimal point", n.Value)})
			}
		}
	}
	var walk func(n *yaml.Node, t reflect.Type, path []any)
	walk = func(n *yaml.Node, t reflect.Type, path []any) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case n.Kind == yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, t, path)
			}
		case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				for fi := range t.NumField() {
					if name, _, _ := strings.Cut(t.Field(fi).Tag.Get("yaml"), ","); name == key {
						walk(n.Content[i+1], t.Field(fi).Type, at(path, key))
					}
				}
			}
		case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := at(path, n.Content[i].Value)
				check(n.Content[i], t.Key(), p)
				walk(n.Content[i+1], t.Elem(), p)
			}
		case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
			for i, c := range n.Content {
				walk(c, t.Elem(), at(path, i))
			}
		case n.Kind == yaml.ScalarNode:
			check(n, t, path)
		}
	}
	walk(root, reflect.TypeFor[World](), nil)
	return errs
}
