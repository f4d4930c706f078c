package sshgcp

import (
	"slices"
	"testing"

	"iapterm/projects"
)

func TestHostKeyLines(t *testing.T) {
	got := HostKeyLines(map[string]string{
		"ssh-ed25519":         "AAAAC3NzaC1lZDI1NTE5AAAAIFcuXjJ2m1mh1cR4Sx+Sh8tW6mKRm4kD8t6p6zY0Hq3B",
		"ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256 AAAAE2VjZHNh",
		"empty":               " ",
	})
	slices.Sort(got)
	want := []string{"ecdsa-sha2-nistp256 AAAAE2VjZHNh", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcuXjJ2m1mh1cR4Sx+Sh8tW6mKRm4kD8t6p6zY0Hq3B"}
	if !slices.Equal(got, want) {
		t.Fatalf("%q", got)
	}
}

func TestLoginProfileAndTarget(t *testing.T) {
	lp := LoginProfile(&projects.LoginProfile{
		PosixAccounts: []projects.PosixAccount{{Primary: true, Username: "alice_example_com", OSType: "LINUX"}},
		SSHKeys:       map[string]projects.SSHPublicKey{"fp": {Key: "ssh-ed25519 AAAA x"}},
	})
	if len(lp.PosixAccounts) != 1 || lp.PosixAccounts[0].Username != "alice_example_com" || lp.SSHPublicKeys[0] != "ssh-ed25519 AAAA x" {
		t.Fatalf("%+v", lp)
	}
	if LoginProfile(nil).PosixAccounts != nil {
		t.Fatal("nil profile")
	}
	tg := Target(&projects.Instance{Project: "p", Zone: "z", Name: "n", ID: "9", Metadata: map[string]string{"a": "b"}}, 0)
	if tg.Key() != "p/z/n" || tg.ID != "9" || tg.SSHPort() != 22 || tg.Metadata["a"] != "b" {
		t.Fatalf("%+v", tg)
	}
}
