package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy is an IAM allow policy as getIamPolicy returns it.
type Policy struct {
	Version  int       `json:"version,omitempty" yaml:"version,omitempty"`
	Etag     string    `json:"etag,omitempty" yaml:"etag,omitempty"`
	Bindings []Binding `json:"bindings" yaml:"bindings"`
}

// Binding grants Role to Members, under Condition when it is set.
type Binding struct {
	Role      string     `json:"role" yaml:"role"`
	Members   []string   `json:"members" yaml:"members"`
	Condition *Condition `json:"condition,omitempty" yaml:"condition,omitempty"`
}

// Condition is an IAM condition: a CEL expression with a title.
type Condition struct {
	Title       string `json:"title,omitempty" yaml:"title,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Expression  string `json:"expression" yaml:"expression"`
	// Location is the Expr field some tools fill in; it is not evaluated.
	Location string `json:"location,omitempty" yaml:"location,omitempty"`
}

// ParseError is a policy file that cannot be used, with the 1-based line
// and column of the problem when they are known (0 otherwise).
type ParseError struct {
	Line, Column int
	Msg          string
	Err          error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

func (e *ParseError) Unwrap() error { return e.Err }

// policyFile accepts both a bare Policy and gcloud's {"policy": {...}}
// wrapper (the setIamPolicy request body the IAP docs show).
// Unknown keys are errors: a misspelt "condition" would otherwise drop the
// condition and turn a conditional grant into an unconditional one. The
// other keys gcloud prints (auditConfigs, and updateMask in a setIamPolicy
// body) are accepted and ignored.
type policyFile struct {
	Policy       *filePolicy `json:"policy" yaml:"policy"`
	UpdateMask   string      `json:"updateMask" yaml:"updateMask"`
	Version      int         `json:"version" yaml:"version"`
	Etag         string      `json:"etag" yaml:"etag"`
	Bindings     []Binding   `json:"bindings" yaml:"bindings"`
	AuditConfigs any         `json:"auditConfigs" yaml:"auditConfigs"`
}

// filePolicy is a Policy as a file holds it, with the keys it may carry
// that the simulation does not use.
type filePolicy struct {
	Version      int       `json:"version" yaml:"version"`
	Etag         string    `json:"etag" yaml:"etag"`
	Bindings     []Binding `json:"bindings" yaml:"bindings"`
	AuditConfigs any       `json:"auditConfigs" yaml:"auditConfigs"`
}

// ParsePolicy reads an IAM policy in JSON or YAML, bare or wrapped in
// {"policy": ...}. Anything it cannot read with certainty is an error
// naming the line and column, so a typo never turns into a silent grant or
// denial.
func ParsePolicy(data []byte) (*Policy, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &ParseError{Msg: "the policy file is empty"}
	}
	var f policyFile
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, jsonError(data, err)
		}
		if dec.More() {
			off := dec.InputOffset()
			line, col := position(data, off)
			return nil, &ParseError{Line: line, Column: col, Msg: "unexpected text after the policy's closing brace"}
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(err)
		}
	}
	p := &Policy{Version: f.Version, Etag: f.Etag, Bindings: f.Bindings}
	if f.Policy != nil {
		if len(f.Bindings) > 0 {
			return nil, &ParseError{Msg: `the file has both "policy" and top-level "bindings": keep one`}
		}
		p = &Policy{Version: f.Policy.Version, Etag: f.Policy.Etag, Bindings: f.Policy.Bindings}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// memberKinds are the prefixes IAM accepts before the colon of a member.
var memberKinds = map[string]bool{
	"user": true, "group": true, "serviceAccount": true, "domain": true,
	"principal": true, "principalSet": true, "deleted": true,
	"projectOwner": true, "projectEditor": true, "projectViewer": true,
}

// Validate checks every binding has a role and well-formed members, and
// that conditions have an expression (compiling them is Simulate's job, so
// one bad condition does not hide the verdicts of the others).
func (p *Policy) Validate() error {
	for i, b := range p.Bindings {
		where := fmt.Sprintf("binding %d", i+1)
		if b.Role != "" {
			where += " (" + b.Role + ")"
		}
		if b.Role == "" {
			return &ParseError{Msg: where + ` has no "role"`}
		}
		if len(b.Members) == 0 {
			return &ParseError{Msg: where + ` has no "members"`}
		}
		for _, m := range b.Members {
			if m == "allUsers" || m == "allAuthenticatedUsers" {
				continue
			}
			kind, id, ok := strings.Cut(m, ":")
			if !ok || id == "" || !memberKinds[kind] {
				return &ParseError{Msg: fmt.Sprintf("%s: member %q is not like user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers", where, m)}
			}
		}
		if b.Condition != nil && strings.TrimSpace(b.Condition.Expression) == "" {
			return &ParseError{Msg: where + ` has a condition without an "expression"`}
		}
	}
	return nil
}

func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col = 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset is just past the offending byte.
		line, col := position(data, max(se.Offset-1, 0))
		return &ParseError{Line: line, Column: col, Msg: "not valid JSON: " + se.Error() + near(data, se.Offset-1), Err: err}
	case errors.As(err, &te):
		line, col := position(data, max(te.Offset-1, 0))
		field := te.Field
		if field == "" {
			field = "the document"
		}
		return &ParseError{Line: line, Column: col, Msg: fmt.Sprintf("%s must be %s, not a JSON %s", field, describeType(te.Type.String()), te.Value), Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		line, col := 0, 0
		if i := bytes.Index(data, []byte(name)); i >= 0 {
			line, col = position(data, int64(i))
		}
		return &ParseError{Line: line, Column: col, Msg: fmt.Sprintf("unknown key %s: a policy has bindings (role, members, condition with title, description and expression), version and etag; check the spelling", name), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		line, col := position(data, int64(len(data)))
		return &ParseError{Line: line, Column: col, Msg: "the JSON ends early: a bracket or quote is not closed", Err: err}
	}
	return &ParseError{Msg: "not valid JSON: " + err.Error(), Err: err}
}

func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "int":
		return "a number"
	}
	return "an object"
}

// near quotes the text around an offset so the user sees the culprit.
func near(data []byte, off int64) string {
	if off < 0 || off >= int64(len(data)) {
		return ""
	}
	start, end := off, off
	for start > 0 && data[start-1] != '\n' && off-start < 30 {
		start--
	}
	for end < int64(len(data)) && data[end] != '\n' && end-off < 30 {
		end++
	}
	return " near: " + strings.TrimSpace(string(data[start:end]))
}

var (
	yamlLine       = regexp.MustCompile(`line (\d+)`)
	yamlUnknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlWrongType  = regexp.MustCompile(`cannot unmarshal !!(\w+)(?: ` + "`[^`]*`" + `)? into (\S+)`)
)

// yamlKinds names YAML's node tags for people.
var yamlKinds = map[string]string{"seq": "a list", "map": "a mapping", "str": "a string", "int": "a number", "float": "a number", "bool": "true or false", "null": "empty"}

// yamlTypeWanted names the Go types the policy decodes into for people.
func yamlTypeWanted(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "int":
		return "a number"
	case t == "policy.policyFile":
		return `a policy (a mapping with "bindings")`
	}
	return "a mapping"
}

func yamlError(err error) error { return yamlErrorFor(err, "a valid policy") }

// yamlErrorFor is yamlError for a file that should be what (the end of
// "not ...: the problem").
func yamlErrorFor(err error, what string) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.TrimPrefix(yamlLine.ReplaceAllString(msg, ""), ":"))
	}
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), ":"))
	if m := yamlUnknownKey.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown key %q: a policy has bindings (role, members, condition with title, description and expression), version and etag; check the spelling", m[1])
		return &ParseError{Line: line, Msg: msg, Err: err}
	}
	if m := yamlWrongType.FindStringSubmatch(msg); m != nil {
		got := yamlKinds[m[1]]
		if got == "" {
			got = m[1]
		}
		msg = fmt.Sprintf("this must be %s, not %s", yamlTypeWanted(m[2]), got)
		return &ParseError{Line: line, Msg: msg, Err: err}
	}
	return &ParseError{Line: line, Msg: "not " + what + ": " + msg, Err: err}
}
