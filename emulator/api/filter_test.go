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
