package main

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
)

// TestSSHSettings checks that iapterm ssh reads the settings file as the
// TUI's tabs do (sshgcp.ReadSettings) and puts its flags on top.
func TestSSHSettings(t *testing.T) {
	const file = `
[settings.ssh]
key_validity = "2h"

[instance."p/z/vm-1".ssh]
user = "deploy"
port = 2222
key_type = "ecdsa-p256"
agent = true
`
	cfg, err := profiles.Parse([]byte(file), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	inst := &projects.Instance{Project: "p", Zone: "z", Name: "vm-1"}
	other := &projects.Instance{Project: "p", Zone: "z", Name: "vm-2"}
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name    string
		inst    *projects.Instance
		flags   sshFlags
		changed func(string) bool
		want    sshgcp.Settings
		wantErr string
	}{
		{name: "instance settings", inst: inst, changed: none,
			want: sshgcp.Settings{User: "deploy", Port: 2222, KeyType: sshclient.KeyECDSAP256, Validity: 2 * time.Hour, Publish: "auto",
				Agent: true, ConnectTimeout: 30 * time.Second, Transport: sshgcp.TransportIAP}},
		{name: "defaults elsewhere", inst: other, changed: none,
			want: sshgcp.Settings{Port: 22, KeyType: sshclient.KeyEd25519, Validity: 2 * time.Hour, Publish: "auto",
				ConnectTimeout: 30 * time.Second, Transport: sshgcp.TransportIAP}},
		{name: "flags win", inst: inst,
			flags:   sshFlags{user: "root", port: 22, keyType: "rsa-3072", validity: time.Minute, publish: "metadata", agent: false},
			changed: func(f string) bool { return f == "agent" },
			want: sshgcp.Settings{User: "root", Port: 22, KeyType: sshclient.KeyRSA3072, Validity: time.Minute, Publish: "metadata",
				ConnectTimeout: 30 * time.Second, Transport: sshgcp.TransportIAP}},
		{name: "bad key type flag", inst: inst, flags: sshFlags{keyType: "dsa"}, changed: none, wantErr: "unknown key type"},
		{name: "bad port flag", inst: inst, flags: sshFlags{port: -1}, changed: none, wantErr: "not a TCP port"},
		{name: "bad publish flag", inst: inst, flags: sshFlags{publish: "x"}, changed: none, wantErr: "publish mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &sshEnv{cfg: cfg}
			got, err := e.settings(tc.inst, tc.flags, tc.changed)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSSHOpenSSHCommandEscapesTokens(t *testing.T) {
	inst := &projects.Instance{Name: "vm-1", Project: "proj", Zone: "us-central1-a", ID: "42"}
	got := sshOpenSSHCommand(inst, 2222, "alice", "/home/a b/100%/id_ed25519", "/home/a b/100%/known_hosts", "", "uname -a")
	for _, want := range []string{
		`-i '/home/a b/100%%/id_ed25519'`,
		`'UserKnownHostsFile="/home/a b/100%%/known_hosts"'`,
		` vm-1 %p --listen-on-stdin --project proj --zone us-central1-a'`,
		`-p 2222 alice@vm-1 -- 'uname -a'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "%%p") {
		t.Errorf("the port token was escaped:\n%s", got)
	}
}

// Warnings during a session (unanswered keepalives, a relay that drops)
// arrive while the terminal is in raw mode: on a terminal each ends with
// \r\n, or the next line starts where this one ended. Elsewhere (a log
// file, a pipe) they stay plain lines.
func TestSSHWarningsEndLinesForRawTerminals(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var b strings.Builder
		h := sshWarnings{w: &b, isTerminal: func(io.Writer) bool { return tty }}
		log := slog.New(h)
		log.Warn("keepalive unanswered", "err", errors.New("timeout"))
		log.Warn("second")
		want := "iapterm: warning: keepalive unanswered: timeout\niapterm: warning: second\n"
		if tty {
			want = "\r\033[Kiapterm: warning: keepalive unanswered: timeout\r\n\r\033[Kiapterm: warning: second\r\n"
		}
		if b.String() != want {
			t.Errorf("terminal %v: %q, want %q", tty, b.String(), want)
		}
	}
}

// A VM that is not running is explained by its state: a suspended one is
// resumed (start does not apply to it), a stopped one started, one that
// is booting waited for.
func TestSSHNotRunningSaysWhatToDo(t *testing.T) {
	for _, tc := range []struct{ status, want, not string }{
		{"SUSPENDED", "resume it first (`gcloud compute instances resume vm --project p --zone z`, or `iapterm doctor p/z/vm --start`", "instances start"},
		{"TERMINATED", "start it first (`gcloud compute instances start vm --project p --zone z`", "resume"},
		{"STAGING", "it is starting; try again when it is RUNNING", "instances start"},
		{"STOPPING", "wait until it has stopped or suspended", "instances start"},
	} {
		err := notRunning(&projects.Instance{Project: "p", Zone: "z", Name: "vm", Status: tc.status})
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("%s: %v", tc.status, err)
		}
	}
}
