package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

// A list filter as Compute takes it: comparisons "FIELD OP VALUE" with OP
// one of =, !=, : (substring), eq, ne (regular expressions), each
// optionally in parentheses, joined by AND (or just spaces) and OR (AND
// binds tighter). Fields: for instances name, status, zone, id,
// labels.KEY; for firewalls name, direction, disabled, priority.
// Anything else is refused with 400 rather than ignored: a filter that
// silently matches everything hides a client's bug.
type computeTerm struct {
	field, op, value string
	re               *regexp.Regexp
}

// computeFilter is an OR of ANDs.
type computeFilter [][]computeTerm

var computeTermRE = regexp.MustCompile(`^\s*\(?\s*([a-zA-Z][a-zA-Z0-9_.-]*)\s*(!=|=|:|\beq\b|\bne\b)\s*("[^"]*"|'[^']*'|[^\s()]+)\s*\)?\s*`)
var computeJoinRE = regexp.MustCompile(`^\s*(AND|OR)\b\s*`)

// filterFields reads a resource's filterable fields; ok is false for a
// field the emulator does not filter on.
type filterFields func(field string) (value string, ok bool)

func instanceFields(in cloud.Instance) filterFields {
	return func(field string) (string, bool) {
		switch field {
		case "name":
			return in.Name, true
		case "status":
			return in.Status, true
		case "zone":
			return in.Zone, true
		case "id":
			return strconv.FormatUint(in.ID, 10), true
		}
		if k, ok := strings.CutPrefix(field, "labels."); ok && k != "" {
			return in.Labels[k], true
		}
		return "", false
	}
}

func firewallFields(f world.Firewall) filterFields {
	return func(field string) (string, bool) {
		switch field {
		case "name":
			return f.Name, true
		case "direction":
			return f.Direction, true
		case "disabled":
			return strconv.FormatBool(f.Disabled), true
		case "priority":
			if f.Priority == nil {
				return "1000", true
			}
			return strconv.Itoa(*f.Priority), true
		}
		return "", false
	}
}

// parseComputeFilter reads s; known tells the fields that can be used.
func parseComputeFilter(s string, known filterFields, fieldNames string) (computeFilter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	expr := computeFilter{nil}
	for rest := s; rest != ""; {
		m := computeTermRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("cannot read %q", strings.TrimSpace(rest))
		}
		field, op, val := m[1], m[2], strings.Trim(m[3], `"'`)
		if _, ok := known(field); !ok {
			return nil, fmt.Errorf("the emulator filters on %s, not %s", fieldNames, field)
		}
		t := computeTerm{field: field, op: op, value: val}
		if op == "eq" || op == "ne" {
			re, err := regexp.Compile("^(?:" + val + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: not a regular expression", field, op, val)
			}
			t.re = re
		}
		expr[len(expr)-1] = append(expr[len(expr)-1], t)
		rest = rest[len(m[0]):]
		if j := computeJoinRE.FindStringSubmatch(rest); j != nil {
			if j[1] == "OR" {
				expr = append(expr, nil)
			}
			rest = rest[len(j[0]):]
			if rest == "" {
				return nil, fmt.Errorf("nothing after %s", j[1])
			}
		}
	}
	return expr, nil
}

func (t computeTerm) matches(get filterFields) bool {
	have, _ := get(t.field)
	switch t.op {
	case "=":
		return have == t.value
	case "!=":
		return have != t.value
	case ":":
		return t.value == "*" && have != "" || t.value != "*" && strings.Contains(have, t.value)
	case "eq":
		return t.re.MatchString(have)
	default: // ne
		return !t.re.MatchString(have)
	}
}

func (e computeFilter) matches(get filterFields) bool {
	for _, and := range e {
		ok := true
		for _, t := range and {
			if !t.matches(get) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// filterList applies the request's filter to list, or answers 400 and
// reports false.
func filterList[T any](w http.ResponseWriter, list []T, filter string, fields func(T) filterFields, fieldNames string) ([]T, bool) {
	var zero T
	expr, err := parseComputeFilter(filter, fields(zero), fieldNames)
	if err != nil {
		writeError(w, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'filter': '%s'. Invalid list filter expression: %v.", filter, err), false))
		return nil, false
	}
	if expr == nil {
		return list, true
	}
	var out []T
	for _, x := range list {
		if expr.matches(fields(x)) {
			out = append(out, x)
		}
	}
	return out, true
}

func filterOrFail(w http.ResponseWriter, all []cloud.Instance, filter string) ([]cloud.Instance, bool) {
	return filterList(w, all, filter, instanceFields, "name, status, zone, id and labels.KEY")
}
