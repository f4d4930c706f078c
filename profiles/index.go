package profiles

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// docIndex records where every key and table of a TOML document is, so that
// errors can name a line and edits can change only the bytes of one key.
type docIndex struct {
	data   []byte
	stmts  []stmt
	tables []table
}

type stmt struct {
	path      []string // full key path, table prefix included
	start     int      // offset of the key's first byte
	end       int      // offset just past the value
	lastPart  [2]int   // byte range of the key's last dotted part
	keyEnd    int      // offset just past the key text
	line      int
	tableIdx  int  // index into tables of the enclosing header, -1 at top level
	arrayElem bool // inside an [[array]] table
}

type table struct {
	path    []string
	line    int
	lineEnd int // offset just past the header line's newline
	array   bool
}

func joinPath(p []string) string { return strings.Join(p, "\x00") }

func indexDocument(data []byte) (*docIndex, error) {
	idx := &docIndex{data: data}
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	cur := -1
	inArray := false
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var parts []string
			first := -1
			it := e.Key()
			for it.Next() {
				n := it.Node()
				if first < 0 {
					first = int(n.Raw.Offset)
				}
				parts = append(parts, string(n.Data))
			}
			if first < 0 {
				return nil, fmt.Errorf("table header without a name")
			}
			prefix = parts
			inArray = e.Kind == unstable.ArrayTable
			idx.tables = append(idx.tables, table{path: parts, line: lineOf(data, first), lineEnd: endOfLine(data, first), array: inArray})
			cur = len(idx.tables) - 1
		case unstable.KeyValue:
			s := stmt{start: int(e.Raw.Offset), end: int(e.Raw.Offset + e.Raw.Length), tableIdx: cur, arrayElem: inArray}
			s.path = append(s.path, prefix...)
			it := e.Key()
			for it.Next() {
				n := it.Node()
				s.path = append(s.path, string(n.Data))
				s.lastPart = [2]int{int(n.Raw.Offset), int(n.Raw.Offset + n.Raw.Length)}
				s.keyEnd = s.lastPart[1]
			}
			s.line = lineOf(data, s.start)
			idx.stmts = append(idx.stmts, s)
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return idx, nil
}

func lineOf(data []byte, off int) int { return strings.Count(string(data[:off]), "\n") + 1 }

// endOfLine returns the offset just past the newline ending the line at off.
func endOfLine(data []byte, off int) int {
	for i := off; i < len(data); i++ {
		if data[i] == '\n' {
			return i + 1
		}
	}
	return len(data)
}

func startOfLine(data []byte, off int) int {
	for off > 0 && data[off-1] != '\n' {
		off--
	}
	return off
}

// line returns the line where path (or the nearest enclosing key or table
// that exists) is defined, 0 if none.
func (d *docIndex) line(path []string) int {
	for n := len(path); n > 0; n-- {
		want := joinPath(path[:n])
		for _, s := range d.stmts {
			if !s.arrayElem && joinPath(s.path) == want {
				return s.line
			}
		}
		for _, t := range d.tables {
			if joinPath(t.path) == want {
				return t.line
			}
		}
		// The first table or dotted key below this path.
		first := 0
		for _, t := range d.tables {
			if len(t.path) > n && joinPath(t.path[:n]) == want && (first == 0 || t.line < first) {
				first = t.line
			}
		}
		for _, s := range d.stmts {
			if len(s.path) > n && joinPath(s.path[:n]) == want && (first == 0 || s.line < first) {
				first = s.line
			}
		}
		if first > 0 {
			return first
		}
	}
	return 0
}

func (d *docIndex) find(path []string) (stmt, bool) {
	want := joinPath(path)
	for _, s := range d.stmts {
		if !s.arrayElem && joinPath(s.path) == want {
			return s, true
		}
	}
	return stmt{}, false
}
