package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestComputeListFilter(t *testing.T) {
	e := newEnv(t, Options{})
	names := func(path string) []string {
		t.Helper()
		code, m := e.raw("GET", path, "alice-token", "")
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, m)
		}
		var out []string
		if items, ok := m["items"].(map[string]any); ok {
			for _, sc := range items {
				list, _ := sc.(map[string]any)["instances"].([]any)
				for _, in := range list {
					out = append(out, in.(map[string]any)["name"].(string))
				}
			}
		} else if items, ok := m["items"].([]any); ok {
			for _, in := range items {
				out = append(out, in.(map[string]any)["name"].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	agg := "/compute/v1/projects/proj-a/aggregated/instances?filter="
	for _, tt := range []struct{ filter, want string }{
		{"status = TERMINATED", "vm-3"},
		{`name = "vm-1" OR name = vm-3`, "vm-1 vm-3"},
		{"(zone = us-central1-b) AND (status != TERMINATED)", "vm-4"},
		{"name eq vm-[12]", "vm-1 vm-2"},
		{"name ne vm-.*", "win-1"},
		{"name : win", "win-1"},
	} {
		if got := strings.Join(names(agg+url.QueryEscape(tt.filter)), " "); got != tt.want {
			t.Errorf("filter %q: got %q, want %q", tt.filter, got, tt.want)
		}
	}
	if got := strings.Join(names("/compute/v1/projects/proj-a/zones/us-central1-a/instances?filter="+url.QueryEscape("name != vm-1")), " "); got != "vm-2" {
		t.Errorf("zonal list filter: got %q", got)
	}
	// What the emulator cannot evaluate is refused, not ignored: ignoring it
	// would answer every instance and hide the client's mistake.
	for _, bad := range []string{"bogus stuff", "machineType = e2-medium", "name = vm-1 AND", "name eq vm-(", "status = RUNNING OR"} {
		code, m := e.raw("GET", agg+url.QueryEscape(bad), "alice-token", "")
		errObj, _ := m["error"].(map[string]any)
		msg, _ := errObj["message"].(string)
		if code != 400 || !strings.Contains(msg, "Invalid value for field 'filter'") {
			t.Errorf("filter %q: %d %v", bad, code, m)
		}
	}
}

func TestFirewallListFilter(t *testing.T) {
	e := newEnv(t, Options{})
	path := "/compute/v1/projects/proj-a/global/firewalls?filter="
	code, m := e.raw("GET", path+url.QueryEscape("name = web-only"), "alice-token", "")
	items, _ := m["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["name"] != "web-only" {
		t.Fatalf("name = web-only: %d %v", code, m)
	}
	code, m = e.raw("GET", path+url.QueryEscape("name = nothing-like-it"), "alice-token", "")
	if items, _ := m["items"].([]any); code != 200 || len(items) != 0 {
		t.Fatalf("no match: %d %v", code, m)
	}
	code, m = e.raw("GET", path+url.QueryEscape("sourceRanges = 0.0.0.0/0"), "alice-token", "")
	errObj, _ := m["error"].(map[string]any)
	if msg, _ := errObj["message"].(string); code != 400 || !strings.Contains(msg, "not sourceRanges") {
		t.Fatalf("unsupported field: %d %v", code, m)
	}
}

// maxResults that is not a number is not told it is too large.
func TestMaxResultsMessages(t *testing.T) {
	e := newEnv(t, Options{})
	for v, want := range map[string]string{
		"abc": "Must be a whole number from 0 to 500",
		"-1":  "Must be greater than or equal to 0",
		"501": "Must be less than or equal to 500",
	} {
		code, m := e.raw("GET", "/compute/v1/projects/proj-a/aggregated/instances?maxResults="+v, "alice-token", "")
		if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, want) {
			t.Errorf("maxResults=%s: %d %s; want %q", v, code, msg, want)
		}
	}
}

// firewalls.insert keeps priority 0, takes the network in every form
// Compute does, and refuses what a world file would refuse.
func TestFirewallInsertChecks(t *testing.T) {
	e := newEnv(t, Options{})
	insert := func(body string) (int, map[string]any) {
		t.Helper()
		return e.raw("POST", "/compute/v1/projects/proj-a/global/firewalls", "alice-token", body)
	}
	rule := func(name string) map[string]any {
		t.Helper()
		_, m := e.raw("GET", "/compute/v1/projects/proj-a/global/firewalls?filter="+url.QueryEscape("name = "+name), "alice-token", "")
		items, _ := m["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("rule %s: %v", name, m)
		}
		return items[0].(map[string]any)
	}
	for name, network := range map[string]string{
		"net-url":     "https://www.googleapis.com/compute/v1/projects/proj-a/global/networks/default",
		"net-partial": "global/networks/default",
		"net-project": "projects/proj-a/global/networks/default",
		"net-none":    "",
	} {
		code, m := insert(fmt.Sprintf(`{"name":%q,"network":%q,"priority":0,"sourceRanges":["35.235.240.0/20"],"allowed":[{"IPProtocol":"tcp","ports":["22"]}]}`, name, network))
		if code != 200 {
			t.Fatalf("%s: %d %v", name, code, m)
		}
		r := rule(name)
		if r["network"] != "https://www.googleapis.com/compute/v1/projects/proj-a/global/networks/default" || r["priority"] != float64(0) || r["direction"] != "INGRESS" {
			t.Errorf("%s stored as %v", name, r)
		}
	}
	if code, _ := insert(`{"name":"prio-default","allowed":[{"IPProtocol":"tcp"}]}`); code != 200 || rule("prio-default")["priority"] != float64(1000) {
		t.Errorf("missing priority: %d %v", code, rule("prio-default"))
	}
	for body, want := range map[string]string{
		`{"name":"bad-range","sourceRanges":["nowhere"],"allowed":[{"IPProtocol":"tcp"}]}`:                          "'resource.sourceRanges[0]'",
		`{"name":"bad-port","allowed":[{"IPProtocol":"tcp","ports":["99999"]}]}`:                                    "'resource.allowed[0].ports[0]'",
		`{"name":"bad-proto","allowed":[{"IPProtocol":"tpc"}]}`:                                                     "'resource.allowed[0].IPProtocol'",
		`{"name":"bad-dir","direction":"IN","allowed":[{"IPProtocol":"tcp"}]}`:                                      "'resource.direction'",
		`{"name":"other-net","network":"projects/proj-b/global/networks/default","allowed":[{"IPProtocol":"tcp"}]}`: "'resource.network'",
	} {
		code, m := insert(body)
		if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %s; want %s", body, code, msg, want)
		}
	}
}
