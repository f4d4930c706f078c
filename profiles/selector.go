package profiles

import (
	"fmt"
	"regexp"
	"strings"
)

// Selector matches instances by their labels: comma-separated terms, each
// key=value, key!=value, key (present) or !key (absent); all must hold.
type Selector struct {
	terms []selTerm
	text  string
}

type selTerm struct {
	key, value string
	op         string // "=", "!=", "exists", "absent"
}

var labelKey = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
var labelValue = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)

// ParseSelector parses a label selector such as "env=prod,role!=db".
func ParseSelector(s string) (Selector, error) {
	sel := Selector{text: s}
	if strings.TrimSpace(s) == "" {
		return sel, fmt.Errorf("empty label selector: write key=value, e.g. env=prod")
	}
	for _, raw := range strings.Split(s, ",") {
		t := strings.TrimSpace(raw)
		var term selTerm
		switch {
		case strings.Contains(t, "!="):
			k, v, _ := strings.Cut(t, "!=")
			term = selTerm{key: strings.TrimSpace(k), value: strings.TrimSpace(v), op: "!="}
		case strings.Contains(t, "="):
			k, v, _ := strings.Cut(t, "=")
			term = selTerm{key: strings.TrimSpace(k), value: strings.TrimSpace(v), op: "="}
		case strings.HasPrefix(t, "!"):
			term = selTerm{key: strings.TrimSpace(t[1:]), op: "absent"}
		default:
			term = selTerm{key: t, op: "exists"}
		}
		if !labelKey.MatchString(term.key) {
			return Selector{}, fmt.Errorf("label selector %q: %q is not a label key (lowercase letters, digits, _ and -, starting with a letter)", s, term.key)
		}
		if !labelValue.MatchString(term.value) {
			return Selector{}, fmt.Errorf("label selector %q: %q is not a label value (lowercase letters, digits, _ and -)", s, term.value)
		}
		sel.terms = append(sel.terms, term)
	}
	return sel, nil
}

// Matches reports whether labels satisfy every term.
func (s Selector) Matches(labels map[string]string) bool {
	if len(s.terms) == 0 {
		return false
	}
	for _, t := range s.terms {
		v, ok := labels[t.key]
		switch t.op {
		case "=":
			if !ok || v != t.value {
				return false
			}
		case "!=":
			if ok && v == t.value {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "absent":
			if ok {
				return false
			}
		}
	}
	return true
}

func (s Selector) String() string { return s.text }
