package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/parser"
)

// Tri is a yes/no answer that may be unknowable from the client's side.
type Tri int

const (
	No Tri = iota
	Yes
	CannotTell
)

func (t Tri) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "cannot tell"
}

// Verdict is the outcome of a simulation.
type Verdict int

const (
	Denied Verdict = iota
	Granted
	Unknown // depends on something the client cannot see
)

func (v Verdict) String() string {
	switch v {
	case Granted:
		return "granted"
	case Denied:
		return "denied"
	}
	return "cannot tell"
}

// MarshalText makes verdicts readable in JSON output.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// MarshalText makes answers readable in JSON output.
func (t Tri) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Clause is one operand of a condition's top-level &&, || or !, evaluated
// on its own.
type Clause struct {
	Text  string `json:"text"`
	Value string `json:"value"` // "true", "false" or "error: ..."
	// Inputs shows the request attributes the clause reads, e.g.
	// "destination.port = 3389".
	Inputs string `json:"inputs,omitempty"`
}

func (c Clause) String() string {
	s := fmt.Sprintf("`%s` is %s", c.Text, c.Value)
	if c.Inputs != "" {
		s += " for " + c.Inputs
	}
	return s
}

// Explain evaluates each clause of a condition's top-level &&, || and !
// on its own and returns the clauses that make the condition false. A
// condition that is true, or does not compile, yields nil.
func Explain(expr string, r Request) []Clause {
	ok, err := EvalCondition(expr, r)
	if err == nil && ok {
		return nil
	}
	a, cerr := compile(expr)
	if cerr != nil {
		return nil
	}
	native := a.NativeRep()
	var out []Clause
	walkFailing(native.Expr(), native.SourceInfo(), r, false, &out)
	return out
}

// walkFailing appends the leaves that explain why e is false, or, under
// an odd number of negations (negated), why e is true.
func walkFailing(e ast.Expr, info *ast.SourceInfo, r Request, negated bool, out *[]Clause) {
	if e.Kind() == ast.CallKind {
		call := e.AsCall()
		fn := call.FunctionName()
		switch {
		case fn == operators.LogicalNot && len(call.Args()) == 1:
			walkFailing(call.Args()[0], info, r, !negated, out)
			return
		case (fn == operators.LogicalAnd || fn == operators.LogicalOr) && len(call.Args()) == 2:
			// "a && b" is false when any operand is false; "a || b" is false
			// when all are. Under a negation the roles swap.
			conj := (fn == operators.LogicalAnd) != negated
			var bad []ast.Expr
			for _, arg := range call.Args() {
				v, err := evalSub(arg, info, r)
				if err != nil || v == negated {
					bad = append(bad, arg)
				}
			}
			if conj || len(bad) == len(call.Args()) {
				for _, arg := range bad {
					walkFailing(arg, info, r, negated, out)
				}
			}
			return
		}
	}
	text, err := parser.Unparse(e, info)
	if err != nil {
		return
	}
	c := Clause{Text: text, Inputs: inputsOf(text, r)}
	v, err := evalSub(e, info, r)
	switch {
	case err != nil:
		c.Value = "error: " + err.Error()
	default:
		c.Value = fmt.Sprint(v)
	}
	*out = append(*out, c)
}

func evalSub(e ast.Expr, info *ast.SourceInfo, r Request) (bool, error) {
	text, err := parser.Unparse(e, info)
	if err != nil {
		return false, err
	}
	return EvalCondition(text, r)
}

// inputsOf names the request attributes a clause reads, with their values.
func inputsOf(text string, r Request) string {
	var parts []string
	add := func(attr, val string) {
		if strings.Contains(text, attr) {
			parts = append(parts, attr+" = "+val)
		}
	}
	add(AttrDestinationPort, fmt.Sprint(r.DestinationPort))
	add(AttrDestinationIP, fmt.Sprintf("%q", r.DestinationIP))
	add(AttrRequestTime, r.Time.UTC().Format("2006-01-02T15:04:05Z"))
	add(AttrAccessLevels, fmt.Sprintf("%q", r.AccessLevels))
	add(AttrRequestHost, fmt.Sprintf("%q", r.Host))
	add(AttrRequestPath, fmt.Sprintf("%q", r.Path))
	return strings.Join(parts, ", ")
}

var (
	accessLevelName      = regexp.MustCompile(`accessPolicies/[^/"'\s]+/accessLevels/[^/"'\s]+`)
	wholeAccessLevelName = regexp.MustCompile(`^` + accessLevelName.String() + `$`)
)

// ValidAccessLevel says whether name has the form
// accessPolicies/POLICY/accessLevels/LEVEL.
func ValidAccessLevel(name string) bool { return wholeAccessLevelName.MatchString(name) }

// AccessLevelsIn lists the access levels a condition names.
func AccessLevelsIn(expr string) []string {
	var out []string
	for _, m := range accessLevelName.FindAllString(expr, -1) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// GroupResolver says whether member (an email) belongs to group; known is
// false when it cannot find out.
type GroupResolver func(group, member string) (isMember, known bool)

// SimOptions tune Simulate.
type SimOptions struct {
	// Groups resolves group: members; nil means group membership cannot
	// be told.
	Groups GroupResolver
	// AccessLevelsKnown says Request.AccessLevels is the complete list of
	// levels the caller satisfies; otherwise levels named by a condition
	// are requirements the simulation cannot verify.
	AccessLevelsKnown bool
}

// BindingResult explains one binding's part in a verdict.
type BindingResult struct {
	Index       int        `json:"index"` // 1-based, in file order
	Role        string     `json:"role"`
	Condition   *Condition `json:"condition,omitempty"`
	RoleGrants  Tri        `json:"roleGrants"`
	MemberMatch Tri        `json:"memberMatch"`
	MatchedBy   string     `json:"matchedBy,omitempty"` // the member entry that matched
	// ConditionValue is "true", "false", "error: ...", or "" when the
	// binding has no condition.
	ConditionValue string   `json:"conditionValue,omitempty"`
	FailingClauses []Clause `json:"failingClauses,omitempty"`
	// AccessLevels are the levels the condition names and the simulation
	// could not verify.
	AccessLevels []string `json:"accessLevels,omitempty"`
	Verdict      Verdict  `json:"verdict"`
	Explanation  string   `json:"explanation"`
}

// Result is a simulated access decision with its reasons.
type Result struct {
	Verdict    Verdict         `json:"verdict"`
	Member     string          `json:"member"`
	Permission string          `json:"permission"`
	Bindings   []BindingResult `json:"bindings"`
	// Requirements are conditions outside the client's view (access
	// levels) that decide the verdict.
	Requirements []string `json:"requirements,omitempty"`
	Summary      string   `json:"summary"`
}

// Simulate decides whether member holds permission (or, given a role name,
// every permission of that role) under p for request r, explaining each
// binding.
func Simulate(p *Policy, member, permission string, r Request) Result {
	return SimulateWith(p, member, permission, r, SimOptions{})
}

// SimulateWith is Simulate with options.
func SimulateWith(p *Policy, member, permission string, r Request, opt SimOptions) Result {
	member = normalizeMember(member)
	res := Result{Member: member, Permission: permission, Verdict: Denied}
	if p == nil {
		p = &Policy{}
	}
	for i, b := range p.Bindings {
		br := evalBinding(i+1, b, member, permission, r, opt)
		res.Bindings = append(res.Bindings, br)
		switch br.Verdict {
		case Granted:
			res.Verdict = Granted
		case Unknown:
			if res.Verdict == Denied {
				res.Verdict = Unknown
			}
		}
		for _, l := range br.AccessLevels {
			if !slices.Contains(res.Requirements, l) && br.Verdict != Denied {
				res.Requirements = append(res.Requirements, l)
			}
		}
	}
	switch res.Verdict {
	case Granted:
		res.Summary = fmt.Sprintf("%s has %s", member, permission)
		res.Requirements = nil
		for _, b := range res.Bindings {
			if b.Verdict == Granted {
				res.Summary += fmt.Sprintf(" through binding %d (%s)", b.Index, b.Role)
				res.Requirements = b.AccessLevels
				break
			}
		}
	case Unknown:
		res.Summary = fmt.Sprintf("%s may have %s: it depends on facts the client cannot check (see the bindings marked \"cannot tell\")", member, permission)
	default:
		res.Summary = fmt.Sprintf("%s does not have %s: no binding grants it", member, permission)
		if len(p.Bindings) == 0 {
			res.Summary += " (the policy has no bindings)"
		}
	}
	return res
}

func normalizeMember(m string) string {
	m = strings.TrimSpace(m)
	if m == "allUsers" || m == "allAuthenticatedUsers" || strings.Contains(m, ":") {
		return m
	}
	return "user:" + m
}

func isRole(s string) bool { return strings.HasPrefix(s, "roles/") || strings.Contains(s, "/roles/") }

func roleGrants(bindingRole, want string) Tri {
	if isRole(want) {
		if bindingRole == want {
			return Yes
		}
		if !KnownRole(bindingRole) {
			return CannotTell
		}
		if !KnownRole(want) {
			return No
		}
		for _, perm := range RolePermissions(want) {
			if !RoleIncludes(bindingRole, perm) {
				return No
			}
		}
		return Yes
	}
	if RoleIncludes(bindingRole, want) {
		return Yes
	}
	if !KnownRole(bindingRole) {
		return CannotTell
	}
	return No
}

// memberMatches decides whether a binding member covers who.
func memberMatches(entry, who string, groups GroupResolver) Tri {
	if entry == "allUsers" {
		return Yes
	}
	whoKind, whoID, _ := strings.Cut(who, ":")
	if entry == "allAuthenticatedUsers" {
		if whoKind == "user" || whoKind == "serviceAccount" {
			return Yes
		}
		return No
	}
	kind, id, _ := strings.Cut(entry, ":")
	switch kind {
	case "user", "serviceAccount":
		if kind == whoKind && strings.EqualFold(id, whoID) {
			return Yes
		}
	case "group":
		if whoKind == "group" && strings.EqualFold(id, whoID) {
			return Yes
		}
		if groups == nil {
			return CannotTell
		}
		if in, known := groups(strings.ToLower(id), strings.ToLower(whoID)); !known {
			return CannotTell
		} else if in {
			return Yes
		}
	case "domain":
		_, dom, ok := strings.Cut(whoID, "@")
		if ok && (whoKind == "user" || whoKind == "serviceAccount") && strings.EqualFold(dom, id) {
			return Yes
		}
	case "principal", "principalSet":
		// Workforce and workload identities cannot be resolved here.
		if strings.EqualFold(entry, who) {
			return Yes
		}
		return CannotTell
	}
	return No
}

func evalBinding(idx int, b Binding, member, permission string, r Request, opt SimOptions) BindingResult {
	br := BindingResult{Index: idx, Role: b.Role, Condition: b.Condition}
	br.RoleGrants = roleGrants(b.Role, permission)
	br.MemberMatch = No
	for _, m := range b.Members {
		t := memberMatches(m, member, opt.Groups)
		if t == Yes {
			br.MemberMatch, br.MatchedBy = Yes, m
			break
		}
		if t == CannotTell {
			br.MemberMatch, br.MatchedBy = CannotTell, m
		}
	}
	cond := Yes
	if b.Condition != nil {
		cond = evalBindingCondition(&br, b.Condition.Expression, r, opt)
	}
	var reasons []string
	switch br.RoleGrants {
	case No:
		reasons = append(reasons, fmt.Sprintf("%s does not include %s", b.Role, permission))
	case CannotTell:
		reasons = append(reasons, fmt.Sprintf("%s is not a predefined role iapterm knows: check whether it includes %s", b.Role, permission))
	}
	switch br.MemberMatch {
	case No:
		reasons = append(reasons, fmt.Sprintf("%s is not among its members", member))
	case CannotTell:
		reasons = append(reasons, fmt.Sprintf("cannot tell whether %s is in %s", member, br.MatchedBy))
	}
	switch {
	case b.Condition == nil:
	case strings.HasPrefix(br.ConditionValue, "error"):
		reasons = append(reasons, "its condition fails to evaluate ("+strings.TrimPrefix(br.ConditionValue, "error: ")+"), which IAM treats as false")
	case cond == No:
		var cl []string
		for _, c := range br.FailingClauses {
			cl = append(cl, c.String())
		}
		if len(cl) == 0 {
			cl = append(cl, "the condition is false")
		}
		reasons = append(reasons, "its condition is false: "+strings.Join(cl, "; "))
	case cond == CannotTell:
		reasons = append(reasons, "its condition holds only if the caller satisfies access level(s) "+strings.Join(br.AccessLevels, ", ")+", which the client cannot verify")
	}
	all := []Tri{br.RoleGrants, br.MemberMatch, cond}
	switch {
	case slices.Contains(all, No):
		br.Verdict = Denied
	case slices.Contains(all, CannotTell):
		br.Verdict = Unknown
	default:
		br.Verdict = Granted
	}
	if br.Verdict == Granted {
		br.Explanation = fmt.Sprintf("grants %s to %s", permission, br.MatchedBy)
		if b.Condition != nil {
			br.Explanation += " (condition true)"
		}
		if len(br.AccessLevels) > 0 {
			br.Explanation += "; access levels " + strings.Join(br.AccessLevels, ", ") + " are assumed from --access-level"
		}
	} else {
		br.Explanation = strings.Join(reasons, "; ")
	}
	return br
}

func evalBindingCondition(br *BindingResult, expr string, r Request, opt SimOptions) Tri {
	levels := AccessLevelsIn(expr)
	ok, err := EvalCondition(expr, r)
	if err != nil {
		br.ConditionValue = "error: " + err.Error()
		return No
	}
	if opt.AccessLevelsKnown || len(levels) == 0 {
		br.ConditionValue = fmt.Sprint(ok)
		if opt.AccessLevelsKnown {
			br.AccessLevels = levels
		}
		if !ok {
			br.FailingClauses = Explain(expr, r)
			return No
		}
		return Yes
	}
	// The client cannot see which access levels the device satisfies:
	// evaluate with none and with all the named levels. If the answer
	// changes, it depends on them.
	r2 := r
	r2.AccessLevels = append(slices.Clone(r.AccessLevels), levels...)
	ok2, err2 := EvalCondition(expr, r2)
	br.AccessLevels = levels
	switch {
	case err2 != nil:
		br.ConditionValue = "error: " + err2.Error()
		return No
	case ok == ok2:
		br.ConditionValue = fmt.Sprint(ok)
		if !ok {
			// Explain with the levels granted, so the reported clauses are
			// the ones that fail regardless of the device.
			br.FailingClauses = Explain(expr, r2)
			return No
		}
		return Yes
	}
	br.ConditionValue = "depends on access levels"
	return CannotTell
}
