// Package policy evaluates what Google Cloud decides about a connection:
// IAM conditions written in CEL, the permissions of predefined roles, VPC
// firewall rules, IAP's web request normalisation and reauthentication
// settings. It is a leaf package: the emulator enforces with it and the
// doctor explains with it, so both reach the same verdicts.
package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	// Conditions like request.time.getHours("Europe/Berlin") need the
	// time zone database, which Windows and minimal images lack.
	_ "time/tzdata"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Request is the request context an IAM condition on IAP sees.
type Request struct {
	DestinationPort int
	DestinationIP   string
	// Time is request.time; the zero value means the moment of evaluation.
	Time         time.Time
	AccessLevels []string // accessPolicies/N/accessLevels/NAME
	Host, Path   string   // request.host and request.path, for IAP web resources
}

// The attributes IAP documents for conditions on its resources.
const (
	AttrDestinationPort = "destination.port"
	AttrDestinationIP   = "destination.ip"
	AttrRequestTime     = "request.time"
	AttrAccessLevels    = "request.auth.access_levels"
	AttrRequestHost     = "request.host"
	AttrRequestPath     = "request.path"
)

// MaxExpressionLength is the longest condition expression IAM accepts.
const MaxExpressionLength = 12800

// CompileError is a condition that does not compile, with the position of
// the first problem (1-based line and column, in characters).
type CompileError struct {
	Line, Column int
	Message      string
	// Detail is cel-go's full report, with the offending line underlined.
	Detail string
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("condition does not compile: line %d, column %d: %s", e.Line, e.Column, e.Message)
	}
	return "condition does not compile: " + e.Message
}

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error

	cacheMu sync.Mutex
	cache   = map[string]cel.Program{}
)

// maxCached bounds the program cache; conditions in real policies are few,
// so clearing it when full is simpler than an LRU and just as good.
const maxCached = 2048

func env() (*cel.Env, error) {
	envOnce.Do(func() {
		celEnv, envErr = cel.NewEnv(
			cel.Variable(AttrDestinationPort, cel.IntType),
			cel.Variable(AttrDestinationIP, cel.StringType),
			cel.Variable(AttrRequestTime, cel.TimestampType),
			cel.Variable(AttrAccessLevels, cel.ListType(cel.StringType)),
			cel.Variable(AttrRequestHost, cel.StringType),
			cel.Variable(AttrRequestPath, cel.StringType),
			cel.ParserExpressionSizeLimit(MaxExpressionLength),
			cel.ParserRecursionLimit(100),
			// extract() is documented for IAM conditions and is not part of
			// standard CEL: "projects/p/zones/z".extract("/zones/{zone}").
			cel.Function("extract",
				cel.MemberOverload("string_extract_string", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
					cel.BinaryBinding(extractBinding))),
			// inIpRange(ip, cidr) is the documented Access Context Manager
			// helper; it is the natural way to test destination.ip.
			cel.Function("inIpRange",
				cel.Overload("inIpRange_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
					cel.BinaryBinding(inIPRangeBinding))),
		)
	})
	return celEnv, envErr
}

// compile parses and type-checks expr, which must yield a bool.
func compile(expr string) (*cel.Ast, error) {
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	if strings.TrimSpace(expr) == "" {
		return nil, &CompileError{Message: "the expression is empty"}
	}
	ast, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		ce := &CompileError{Detail: iss.Err().Error(), Message: iss.Err().Error()}
		if errs := iss.Errors(); len(errs) > 0 {
			ce.Line = errs[0].Location.Line()
			ce.Column = errs[0].Location.Column() + 1
			ce.Message = errs[0].Message
		}
		return nil, ce
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, &CompileError{Message: fmt.Sprintf("the expression yields %s, a condition must yield a bool", ast.OutputType())}
	}
	return ast, nil
}

func program(expr string) (cel.Program, error) {
	cacheMu.Lock()
	p, ok := cache[expr]
	cacheMu.Unlock()
	if ok {
		return p, nil
	}
	ast, err := compile(expr)
	if err != nil {
		return nil, err
	}
	p, err = programFor(ast)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	if len(cache) >= maxCached {
		clear(cache)
	}
	cache[expr] = p
	cacheMu.Unlock()
	return p, nil
}

func programFor(ast *cel.Ast) (cel.Program, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	// The cost limit stops pathological expressions (huge comprehensions)
	// from pinning a CPU; real conditions cost a few units.
	p, err := e.Program(ast, cel.CostLimit(1_000_000), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("preparing the condition: %w", err)
	}
	return p, nil
}

// Compile reports whether expr is a valid IAP condition, with the position
// of the first problem when it is not.
func Compile(expr string) error {
	_, err := program(expr)
	return err
}

// activation maps a Request onto the declared attributes.
func activation(r Request) map[string]any {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	levels := r.AccessLevels
	if levels == nil {
		levels = []string{}
	}
	return map[string]any{
		AttrDestinationPort: int64(r.DestinationPort),
		AttrDestinationIP:   r.DestinationIP,
		AttrRequestTime:     t.UTC(),
		AttrAccessLevels:    levels,
		AttrRequestHost:     r.Host,
		AttrRequestPath:     r.Path,
	}
}

// EvalCondition evaluates an IAM condition expression against r. Compiled
// programs are cached by expression text. A compile error is a
// *CompileError; an evaluation error (a bad timestamp literal, a CIDR that
// does not parse) is returned as such, and IAM treats it as false.
func EvalCondition(expr string, r Request) (bool, error) {
	p, err := program(expr)
	if err != nil {
		return false, err
	}
	return evalProgram(p, r)
}

func evalProgram(p cel.Program, r Request) (bool, error) {
	out, _, err := p.Eval(activation(r))
	if err != nil {
		return false, fmt.Errorf("evaluating the condition: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the condition yielded %v, not a bool", out.Value())
	}
	return b, nil
}

func extractBinding(lhs, rhs ref.Val) ref.Val {
	s, ok1 := lhs.Value().(string)
	tmpl, ok2 := rhs.Value().(string)
	if !ok1 || !ok2 {
		return types.NewErr("extract: needs string arguments")
	}
	v, err := Extract(s, tmpl)
	if err != nil {
		return types.NewErr("%s", err.Error())
	}
	return types.String(v)
}

// Extract implements IAM's extract(): the template holds one {name}
// placeholder; the text between the template's prefix and suffix is
// returned, or "" when the prefix or suffix is absent.
func Extract(s, template string) (string, error) {
	open := strings.Index(template, "{")
	closing := strings.Index(template, "}")
	if open < 0 || closing < open || strings.Count(template, "{") != 1 || strings.Count(template, "}") != 1 {
		return "", errors.New("extract: the template needs exactly one {name} placeholder")
	}
	prefix, suffix := template[:open], template[closing+1:]
	i := strings.Index(s, prefix)
	if i < 0 {
		return "", nil
	}
	rest := s[i+len(prefix):]
	if suffix == "" {
		return rest, nil
	}
	j := strings.Index(rest, suffix)
	if j < 0 {
		return "", nil
	}
	return rest[:j], nil
}

func inIPRangeBinding(lhs, rhs ref.Val) ref.Val {
	ip, ok1 := lhs.Value().(string)
	cidr, ok2 := rhs.Value().(string)
	if !ok1 || !ok2 {
		return types.NewErr("inIpRange: needs string arguments")
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return types.NewErr("inIpRange: %q is not an IP range like 10.0.0.0/8", cidr)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		// An absent or malformed address is outside every range.
		return types.False
	}
	return types.Bool(prefix.Contains(addr.Unmap()))
}
