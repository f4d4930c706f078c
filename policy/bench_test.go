package policy

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkEvalCondition measures a cached condition, as the emulator's
// relay evaluates one per connection.
func BenchmarkEvalCondition(b *testing.B) {
	expr := `"accessPolicies/1/accessLevels/corp" in request.auth.access_levels && destination.ip == "10.0.0.1" && destination.port == 22 && request.time < timestamp("2030-01-01T00:00:00Z")`
	r := Request{DestinationPort: 22, DestinationIP: "10.0.0.1", Time: time.Now(), AccessLevels: []string{"accessPolicies/1/accessLevels/corp"}}
	for b.Loop() {
		if ok, err := EvalCondition(expr, r); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkEvalConditionCompile measures the first evaluation of a new
// expression (parse, check, plan).
func BenchmarkEvalConditionCompile(b *testing.B) {
	i := 0
	for b.Loop() {
		i++
		if _, err := EvalCondition(fmt.Sprintf(`destination.port == %d || destination.ip == "10.0.0.1"`, i), Request{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateIngress1000 evaluates 1000 rules, the default quota of
// firewall rules per project.
func BenchmarkEvaluateIngress1000(b *testing.B) {
	rules := make([]FirewallRule, 1000)
	for i := range rules {
		rules[i] = FirewallRule{Name: fmt.Sprint("r", i), Network: "default", Priority: 1000 - i%500,
			SourceRanges: []string{"10.0.0.0/8", "192.168.0.0/16"}, TargetTags: []string{fmt.Sprint("t", i)},
			Allowed: []PortRule{{Protocol: "tcp", Ports: []string{"22", "8000-8100"}}}}
	}
	rules[999] = FirewallRule{Name: "iap", Network: "default", Priority: 1000, SourceRanges: []string{IAPSourceRange}, Allowed: []PortRule{{Protocol: "tcp"}}}
	target := FirewallTarget{Network: "projects/p/global/networks/default", Tags: []string{"web"}}
	for b.Loop() {
		if v := EvaluateIngressFromIAP(rules, target, "tcp", 22); !v.Allowed {
			b.Fatal(v.Reason)
		}
	}
}
