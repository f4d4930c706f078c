package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"iapterm/emulator/cloud"
)

// A list filter as Compute takes it: comparisons "FIELD OP VALUE" with OP
// one of =, !=, : (substring), eq, ne (regular expressions), each
// optionally in parentheses, joined by AND (or just spaces) and OR (AND
// binds tighter). Fields: name, status, zone, id, labels.KEY. Anything
// else is refused with 400, as Compute does, rather than ignored: a filter
// that silently matches everything hides a client's bug.
type computeTerm struct {
	field, op, value string
	re               *regexp.Regexp
}

// computeFilter is an OR of ANDs.
type computeFilter [][]computeTerm

var computeTermRE = regexp.MustCompile(`^\s*\(?\s*([a-zA-Z][a-zA-Z0-9_.-]*)\s*(!=|=|:|\beq\b|\bne\b)\s*("[^"]*"|'[^']*'|[^\s()]+)\s*\)?\s*`)
var computeJoinRE = regexp.MustCompile(`^\s*(AND|OR)\b\s*`)

func parseComputeFilter(s string) (computeFilter, error) {
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
		switch {
		case field == "name", field == "status", field == "zone", field == "id":
		case strings.HasPrefix(field, "labels.") && len(field) > len("labels."):
		default:
			return nil, fmt.Errorf("the emulator filters on name, status, zone, id and labels.KEY, not %s", field)
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

func (t computeTerm) matches(in cloud.Instance) bool {
	var have string
	switch {
	case t.field == "name":
		have = in.Name
	case t.field == "status":
		have = in.Status
	case t.field == "zone":
		have = in.Zone
	case t.field == "id":
		have = strconv.FormatUint(in.ID, 10)
	default:
		have = in.Labels[strings.TrimPrefix(t.field, "labels.")]
	}
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

func (e computeFilter) matches(in cloud.Instance) bool {
	for _, and := range e {
		ok := true
		for _, t := range and {
			if !t.matches(in) {
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

// filterOrFail applies the request's filter, or answers 400 and reports false.
func filterOrFail(w http.ResponseWriter, all []cloud.Instance, filter string) ([]cloud.Instance, bool) {
	expr, err := parseComputeFilter(filter)
	if err != nil {
		writeError(w, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'filter': '%s'. Invalid list filter expression: %v.", filter, err), false))
		return nil, false
	}
	if expr == nil {
		return all, true
	}
	var out []cloud.Instance
	for _, in := range all {
		if expr.matches(in) {
			out = append(out, in)
		}
	}
	return out, true
}
