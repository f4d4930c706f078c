package explorer

import (
	"sort"
	"strings"

	"iapterm/projects"
)

// indexed is an instance with the lower-cased strings the filter compares,
// computed once per inventory load so a keystroke only compares strings.
type indexed struct {
	inst   *projects.Instance
	name   string
	status string
	os     string
	zone   string
	labels map[string]string
	flat   string // "k:v k:v" of all labels
}

func index(inst *projects.Instance) indexed {
	ix := indexed{
		inst:   inst,
		name:   strings.ToLower(inst.Name),
		status: strings.ToLower(inst.Status),
		os:     strings.ToLower(string(inst.OS)),
		zone:   strings.ToLower(inst.Zone),
	}
	if ix.os == "" {
		ix.os = string(projects.Linux)
	}
	if len(inst.Labels) > 0 {
		ix.labels = make(map[string]string, len(inst.Labels))
		keys := make([]string, 0, len(inst.Labels))
		for k, v := range inst.Labels {
			lk := strings.ToLower(k)
			ix.labels[lk] = strings.ToLower(v)
			keys = append(keys, lk)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte(':')
			b.WriteString(ix.labels[k])
			b.WriteByte(' ')
		}
		ix.flat = b.String()
	}
	return ix
}

// Filter is a parsed filter expression: whitespace-separated terms that must
// all match. A term is either key:value (status:, os:, name:, zone:, or a
// label key) or a bare word that matches the name, status, OS or a label.
type Filter struct {
	terms []term
}

type term struct {
	key, value string
	hasKey     bool
}

// ParseFilter parses s; it never fails: every string is a valid filter.
func ParseFilter(s string) Filter {
	var f Filter
	for _, w := range strings.Fields(strings.ToLower(s)) {
		if k, v, ok := strings.Cut(w, ":"); ok && k != "" {
			f.terms = append(f.terms, term{key: k, value: v, hasKey: true})
			continue
		}
		f.terms = append(f.terms, term{value: w})
	}
	return f
}

// Empty reports whether the filter matches everything.
func (f Filter) Empty() bool { return len(f.terms) == 0 }

func (f Filter) match(ix *indexed) bool {
	for _, t := range f.terms {
		if !t.match(ix) {
			return false
		}
	}
	return true
}

func (t term) match(ix *indexed) bool {
	if t.hasKey {
		switch t.key {
		case "status":
			return strings.HasPrefix(ix.status, t.value)
		case "os":
			return strings.HasPrefix(ix.os, t.value)
		case "name":
			return strings.Contains(ix.name, t.value)
		case "zone":
			return strings.Contains(ix.zone, t.value)
		}
		v, ok := ix.labels[t.key]
		return ok && strings.Contains(v, t.value)
	}
	return strings.Contains(ix.name, t.value) ||
		strings.HasPrefix(ix.status, t.value) ||
		strings.HasPrefix(ix.os, t.value) ||
		(ix.flat != "" && strings.Contains(ix.flat, t.value))
}
