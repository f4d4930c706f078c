package sshclient

import "testing"

// Names a VM lists in a directory become local path elements in cp -r:
// none may climb out of the destination or name another directory.
func TestLocalName(t *testing.T) {
	for name, want := range map[string]bool{
		"file.txt": true, ".hidden": true, "a b": true, "..x": true,
		"": false, ".": false, "..": false, "../x": false, "a/b": false, "/etc": false, "../../.bashrc": false,
	} {
		if got := localName(name); got != want {
			t.Errorf("localName(%q) = %v, want %v", name, got, want)
		}
	}
}
