package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitInstance(t *testing.T) {
	t.Setenv(envProject, "")
	for _, tc := range []struct {
		arg, project, zone string
		want               [3]string
		err                string
	}{
		{arg: "vm", project: "p", want: [3]string{"p", "", "vm"}},
		{arg: "vm", project: "p", zone: "z", want: [3]string{"p", "z", "vm"}},
		{arg: "p/z/vm", want: [3]string{"p", "z", "vm"}},
		{arg: "p/z/vm", project: "p", zone: "z", want: [3]string{"p", "z", "vm"}},
		{arg: "p/z/vm", project: "q", err: "is in project p, but --project says q"},
		{arg: "p/z/vm", zone: "y", err: "is in zone z, but --zone says y"},
		{arg: "p/z/", err: "has no name after PROJECT/ZONE/"},
		{arg: "p//vm", err: "has no zone"},
		{arg: "/z/vm", err: "has no project"},
		{arg: "p/vm", project: "p", err: "neither an instance name nor PROJECT/ZONE/NAME"},
		{arg: "a/b/c/d", err: "neither an instance name nor PROJECT/ZONE/NAME"},
		{arg: "", project: "p", err: "the INSTANCE is empty"},
		{arg: "vm", err: "which project is vm in? give --project PROJECT (or set IAPTERM_PROJECT)"},
		{arg: "Web-1", project: "p", err: `"Web-1" is not an instance name: names are lowercase letters, digits and -, start with a letter and have at most 63 characters (did you mean web-1?)`},
		{arg: "p/z/web 1", err: `INSTANCE "p/z/web 1": "web 1" is not an instance name`},
		{arg: "1vm", project: "p", err: "is not an instance name"},
		{arg: "vm-", project: "p", err: "is not an instance name"},
		{arg: "a123456789b123456789c123456789d123456789e123456789f123456789g12", project: "p", want: [3]string{"p", "", "a123456789b123456789c123456789d123456789e123456789f123456789g12"}},
		{arg: "a123456789b123456789c123456789d123456789e123456789f123456789g123", project: "p", err: "at most 63"},
	} {
		p, z, n, err := splitInstance(tc.arg, tc.project, tc.zone)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("splitInstance(%q, %q, %q): %v, want %q", tc.arg, tc.project, tc.zone, err, tc.err)
			}
			continue
		}
		if err != nil || [3]string{p, z, n} != tc.want {
			t.Errorf("splitInstance(%q, %q, %q) = %q %q %q, %v; want %q", tc.arg, tc.project, tc.zone, p, z, n, err, tc.want)
		}
	}
	t.Setenv(envProject, "from-env")
	if p, _, _, err := splitInstance("vm", "", ""); err != nil || p != "from-env" {
		t.Errorf("bare name with $IAPTERM_PROJECT: %q, %v", p, err)
	}
	if p, _, _, err := splitInstance("vm", "flag", ""); err != nil || p != "flag" {
		t.Errorf("--project over $IAPTERM_PROJECT: %q, %v", p, err)
	}
}

// Every command that takes an INSTANCE refuses the same contradictions
// with the same words: doctor (exit 2), ssh (exit 255 like OpenSSH) and
// tunnel, which now also takes PROJECT/ZONE/NAME.
func TestInstanceArgumentSameEverywhere(t *testing.T) {
	t.Setenv(envProject, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proj/us-central1-a/vm", "--project", "other"}, "INSTANCE proj/us-central1-a/vm is in project proj, but --project says other: give one of them"},
		{[]string{"proj/us-central1-a/vm", "--zone", "europe-west1-b"}, "INSTANCE proj/us-central1-a/vm is in zone us-central1-a, but --zone says europe-west1-b: give one of them"},
		{[]string{"proj/us-central1-a/"}, `INSTANCE "proj/us-central1-a/" has no name after PROJECT/ZONE/`},
		{[]string{"proj/vm"}, `INSTANCE "proj/vm" is neither an instance name nor PROJECT/ZONE/NAME`},
	} {
		for _, cmd := range []struct {
			name  string
			extra []string
			code  int
		}{{"doctor", nil, 2}, {"ssh", nil, 255}, {"tunnel", nil, 1}} {
			args := []string{"--endpoint", "http://127.0.0.1:1", cmd.name, tc.args[0]}
			if cmd.name == "tunnel" {
				args = append(args, "22")
			}
			args = append(args, tc.args[1:]...)
			out, code := policyRunCLI(t, args...)
			if code != cmd.code || !strings.Contains(out, tc.want) {
				t.Errorf("%v: exit %d, want %d and %q:\n%s", args, code, cmd.code, tc.want, out)
			}
		}
	}
}

// doctor, like ssh, takes the project from $IAPTERM_PROJECT for a bare
// name (it used to insist on --project): the access level check after it
// is reached.
func TestDoctorProjectFromEnvironment(t *testing.T) {
	t.Setenv(envProject, "proj")
	out, code := policyRunCLI(t, "--endpoint", "http://127.0.0.1:1", "doctor", "vm", "--access-level", "corp")
	if code != 2 || !strings.Contains(out, `--access-level "corp" is not a full access level name`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A missing or extra argument names the command line to write, not only
// a count ("accepts 2 arg(s), received 1").
func TestArgumentCountMessages(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tunnel", "vm"}, "missing arguments: iapterm tunnel INSTANCE PORT"},
		{[]string{"config", "set", "ssh.user"}, "missing arguments: iapterm config set KEY VALUE"},
		{[]string{"config", "reset", "ssh.user", "extra"}, `unexpected argument "extra": iapterm config reset KEY`},
		{[]string{"connect"}, "missing arguments: iapterm connect PROFILE"},
	} {
		out, code := policyRunCLI(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}

// config set on a file that does not load says so once, as the error, and
// leaves the file alone (it used to warn and then fail with the same
// message).
func TestConfigSetOnBrokenFileSaysItOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	broken := "[settings.ssh\nuser = \"alice\"\n"
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := policyRunCLI(t, "--config", path, "config", "set", "ssh.user", "bob")
	if code != 1 || strings.Count(out, "expected ']'") != 1 || !strings.Contains(out, "the file is not edited until it loads again") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if data, _ := os.ReadFile(path); string(data) != broken {
		t.Fatalf("file changed:\n%s", data)
	}
}

// A mistyped subcommand of a command group is an error with the commands
// and a suggestion, not the group's help with exit status 0; the bare
// group still prints its help.
func TestUnknownSubcommandIsAnError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"policy", "tset"}, `unknown command "tset" for "iapterm policy": its commands are reauth, test; did you mean test?`},
		{[]string{"config", "sett", "ssh.user", "x"}, `unknown command "sett" for "iapterm config"`},
		{[]string{"auth", "stauts"}, "did you mean status?"},
	} {
		out, code := policyRunCLI(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	out, code := policyRunCLI(t, "policy")
	if code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("bare group: exit %d:\n%s", code, out)
	}
}
