//go:build !windows

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/projects"
)

// An iap-rdp link is written by anyone: one that asks to reset a password
// (CredentialGenerationBehavior=Force) must not do so without a
// confirmation, which a handler started without a terminal cannot get.
func TestOpenLinkForcingNewCredentialsNeedsConfirmation(t *testing.T) {
	w := ownedWindowsVM()
	s, eps := emutest.Serve(t, w, emulator.Options{AgentDelay: -1})
	dir := t.TempDir()
	client := filepath.Join(dir, "xfreerdp")
	if err := os.WriteFile(client, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	t.Setenv("IAPTERM_RDP_CLIENT", client)
	isolateHome(t)

	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"--endpoint", s.Endpoint(), "open", "iap-rdp:///proj/us-central1-a/win?Username=bob&CredentialGenerationBehavior=Force"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "needs your confirmation") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	api, err := projects.NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok-alice"}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := api.Instance(context.Background(), "proj", "us-central1-a", "win")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := in.Metadata["windows-keys"]; ok {
		t.Fatalf("the link reset the password without asking: windows-keys = %q", v)
	}
}
