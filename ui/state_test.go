package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ui-state.json")
	s := &stateStore{path: path}
	want := State{Version: stateVersion, Projects: []string{"a", "b"}, Collapsed: []string{"p:a"}, Selected: "i:a/z/vm", HideWindows: true}
	if err := s.save(1, want); err != nil {
		t.Fatal(err)
	}
	// An older write that finishes late never replaces a newer one.
	if err := s.save(0, State{Projects: []string{"old"}}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestLoadStateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"syntax", "{\n\"projects\": [1,\n", "ui-state.json:3"},
		{"type", "{\n  \"projects\": \"a\"\n}", "ui-state.json:2"},
		{"newer", `{"version": 99}`, "newer iapterm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "ui-state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadState(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "will not overwrite") {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if st, err := LoadState(filepath.Join(dir, "missing.json")); err != nil || len(st.Projects) != 0 {
		t.Fatalf("missing file: %+v, %v", st, err)
	}
}

func FuzzLoadState(f *testing.F) {
	for _, s := range []string{"", "{}", `{"projects":["a"]}`, "{\n", `{"version":2}`, `[1,2]`, "\xff"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "ui-state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		LoadState(path) // must not panic; errors are fine
	})
}

func TestPickerHintAt100Results(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	for i := 0; i < 150; i++ {
		h.fake.all = append(h.fake.all, h.fake.all[3])
		h.fake.all[len(h.fake.all)-1].ID = "bulk-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	h.key("a")
	if n := len(h.m.picker.Results()); n != 100 {
		t.Fatalf("%d results, want at most 100", n)
	}
	if !strings.Contains(h.screen(), "type more to narrow") {
		t.Fatalf("no hint to refine:\n%s", h.screen())
	}
}
