package world

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const minimal = `users:
  - email: a@example.com
projects:
  - id: p1
    instances:
      - name: vm-1
        zone: us-central1-a
`

func TestParseDefaults(t *testing.T) {
	w, err := Parse([]byte(minimal), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := w.Projects[0]
	if p.Name != "p1" || p.State != "ACTIVE" || p.Number < 100000000000 || p.Number > 999999999999 {
		t.Fatalf("project defaults: %+v", p)
	}
	in := p.Instances[0]
	if in.Status != "RUNNING" || in.OS != "linux" || in.MachineType != "e2-medium" || in.Network != "default" || in.InternalIP != "10.128.0.2" || in.ID == 0 {
		t.Fatalf("instance defaults: %+v", in)
	}
	w2, _ := Parse([]byte(minimal), "w.yaml")
	if w2.Projects[0].Number != p.Number || w2.Projects[0].Instances[0].ID != in.ID {
		t.Fatal("defaults are not deterministic")
	}
	if got := NetworkPath("p1", in.Network); got != "projects/p1/global/networks/default" {
		t.Fatalf("NetworkPath = %q", got)
	}
}

func TestParseJSON(t *testing.T) {
	const js = `{"users":[{"email":"a@example.com","token":"t1"}],
"projects":[{"id":"p1","firewalls":[{"name":"fw","allowed":[{"IPProtocol":"tcp","ports":["22"]}]}],
 "instances":[{"name":"vm","zone":"europe-west1-b","os":"Windows","backends":{"3389":"127.0.0.1:3389"}}]}]}`
	w, err := Parse([]byte(js), "w.json")
	if err != nil {
		t.Fatal(err)
	}
	in := w.Projects[0].Instances[0]
	if !in.IsWindows() || in.Backends[3389] != "127.0.0.1:3389" {
		t.Fatalf("instance: %+v", in)
	}
	if f := w.Projects[0].Firewalls[0]; *f.Priority != 1000 || f.Direction != "INGRESS" || f.Network != "default" {
		t.Fatalf("firewall defaults: %+v", f)
	}
	// Content sniffing when the name says nothing.
	if _, err := Parse([]byte(js), "world"); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, data string
		line             int
		want             string
	}{
		{"empty", "w.yaml", "", 0, "empty"},
		{"yaml syntax", "w.yaml", "users:\n  - email: a@example.com\n projects: [\n", 2, "w.yaml:2"},
		{"unknown field", "w.yaml", "users:\n  - email: a@example.com\n    mail: x\nprojects: []\n", 3, "mail"},
		{"wrong type", "w.yaml", minimal + "        backends:\n          abc: x\n", 9, "expected a whole number"},
		{"bad status", "w.yaml", minimal + "        status: ASLEEP\n", 8, "unknown status \"ASLEEP\""},
		{"bad os", "w.yaml", minimal + "        os: beos\n", 8, "unknown os"},
		{"bad zone", "w.yaml", strings.Replace(minimal, "us-central1-a", "mars", 1), 7, "zone \"mars\""},
		{"bad port", "w.yaml", minimal + "        backends:\n          70000: 127.0.0.1:1\n", 8, "outside 1-65535"},
		{"bad backend", "w.yaml", minimal + "        backends:\n          22: localhost\n", 9, "HOST:PORT"},
		{"dup instance", "w.yaml", minimal + "      - name: vm-1\n        zone: us-central1-a\n", 8, "listed twice"},
		{"dup project", "w.yaml", minimal + "  - id: p1\n", 8, "project p1 is listed twice"},
		{"no users", "w.yaml", "users: []\nprojects:\n  - id: p1\n", 1, "no users"},
		{"bad access level", "w.yaml", strings.Replace(minimal, "a@example.com\n", "a@example.com\n    accessLevels: [corp]\n", 1), 3, "not an access level name"},
		{"bad email", "w.yaml", strings.Replace(minimal, "a@example.com", "nobody", 1), 2, "not an email"},
		{"empty role", "w.yaml", minimal + "    iam:\n      - role: \"\"\n        members: [user:a@example.com]\n", 9, "no role"},
		{"no members", "w.yaml", minimal + "    iam:\n      - role: roles/viewer\n        members: []\n", 10, "no members"},
		{"condition syntax", "w.yaml", minimal + "    iapTunnelIam:\n      - role: roles/iap.tunnelResourceAccessor\n        members: [user:a@example.com]\n        condition: {expression: \"destination.port == \"}\n", 11, "condition does not compile"},
		{"condition unknown attribute", "w.yaml", minimal + "    iapTunnelIam:\n      - role: roles/iap.tunnelResourceAccessor\n        members: [user:a@example.com]\n        condition: {expression: \"destination.prot == 22\"}\n", 11, "destination.prot"},
		{"condition not bool", "w.yaml", minimal + "    iapTunnelIam:\n      - role: roles/iap.tunnelResourceAccessor\n        members: [user:a@example.com]\n        condition: {expression: \"destination.port\"}\n", 11, "must yield a bool"},
		{"bad parent", "w.yaml", strings.Replace(minimal, "  - id: p1\n", "  - id: p1\n    parent: org/1\n", 1), 5, "organizations/NUMBER or folders/NUMBER"},
		{"bad tag", "w.yaml", minimal + "        tags: [Web Servers]\n", 8, "network tag \"Web Servers\""},
		{"bad label key", "w.yaml", minimal + "        labels: {Env: prod}\n", 8, "label key \"Env\""},
		{"bad label value", "w.yaml", strings.Replace(minimal, "  - id: p1\n", "  - id: p1\n    labels: {env: Prod Live}\n", 1), 5, "label value \"Prod Live\""},
		{"dup zone", "w.yaml", minimal + "    zones: [us-east1-b, us-east1-b]\n", 8, "zone us-east1-b is listed twice"},
		{"list item of the wrong kind", "w.yaml", "users:\n  - a@example.com\nprojects: []\n", 2, "users[0]: expected a mapping (key: value), found the text"},
		{"role typo", "w.yaml", minimal + "    iam:\n      - role: roles/iap.tunnelResourceAcessor\n        members: [user:a@example.com]\n", 9, "did you mean roles/iap.tunnelResourceAccessor?"},
		{"role case", "w.yaml", minimal + "    iam:\n      - role: roles/compute.oslogin\n        members: [user:a@example.com]\n", 9, "did you mean roles/compute.osLogin?"},
		{"shared vpc host missing", "w.yaml", minimal + "        network: projects/nohost/global/networks/shared\n", 8, "shared VPC host project nohost is not in the world"},
		{"bad protocol", "w.yaml", minimal + "    firewalls:\n      - name: fw\n        allowed: [{IPProtocol: tpc}]\n", 10, "IPProtocol \"tpc\" must be tcp, udp"},
		{"second document", "w.yaml", minimal + "---\nprojects:\n  - id: p2\n", 9, "a second YAML document"},
		{"negative id", "w.yaml", minimal + "        id: -5\n", 8, "instances[0].id: -5 is out of range: use a whole number from 1 to"},
		{"huge number", "w.yaml", strings.Replace(minimal, "  - id: p1\n", "  - id: p1\n    number: 99999999999999999999\n", 1), 5, "number: 9999999... is out of range"},
		{"fraction port", "w.yaml", minimal + "        backends: {22.5: builtin-ssh}\n", 8, "instances[0].backends.22.5: 22.5 must be a whole number, written without a decimal point"},
		{"fraction priority", "w.yaml", minimal + "    firewalls:\n      - name: fw\n        priority: 1000.5\n        allowed: [{IPProtocol: tcp}]\n", 10, "firewalls[0].priority: 1000.5 must be a whole number"},
		{"json fraction", "w.json", "{\"users\": [{\"email\": \"a@example.com\"}],\n\"projects\": [{\"id\": \"p1\", \"number\": 12.5}]}", 2, "expected a whole number, found a JSON number 12.5"},
		{"bad member", "w.yaml", minimal + "    iam:\n      - role: roles/viewer\n        members: [alice]\n", 10, "member \"alice\""},
		{"bad firewall port", "w.yaml", minimal + "    firewalls:\n      - name: fw\n        allowed:\n          - IPProtocol: tcp\n            ports: [\"22-1\"]\n", 12, "N-M"},
		{"firewall allow and deny", "w.yaml", minimal + "    firewalls:\n      - name: fw\n", 9, "exactly one of allowed or denied"},
		{"bad range", "w.yaml", minimal + "    firewalls:\n      - name: fw\n        sourceRanges: [nowhere]\n        allowed: [{IPProtocol: tcp}]\n", 10, "CIDR"},
		{"bad shared vpc", "w.yaml", minimal + "        network: projects/x/networks/y\n", 8, "HOST/global/networks"},
		{"dup ip", "w.yaml", minimal + "        internalIP: 10.0.0.1\n      - name: vm-2\n        zone: us-central1-a\n        internalIP: 10.0.0.1\n", 11, "also used"},
		{"keys user without file", "w.yaml", minimal + "        authorizedKeysUser: alice\n", 8, "needs authorizedKeysFile"},
		{"keys file on windows", "w.yaml", minimal + "        os: windows\n        authorizedKeysFile: keys\n", 9, "Windows VM"},
		{"keys token in directory", "w.yaml", minimal + "        authorizedKeysFile: /k/%u/keys\n", 8, "only in the file name"},
		{"keys bad user", "w.yaml", minimal + "        authorizedKeysFile: keys\n        authorizedKeysUser: ../root\n", 9, "not a login name"},
		{"json syntax", "w.json", "{\n\"users\": [\n}\n", 3, "invalid JSON"},
		{"json type", "w.json", "{\"users\": 5}", 1, "expected a list, found the number \"5\""},
		{"json number type", "w.json", "{\"users\": [], \"projects\": [{\"id\": \"p\", \"number\": \"1\"}]}", 1, "expected a whole number, found the text \"1\""},
		{"json every key problem", "w.json", "{\"users\": [{\"email\": \"a@example.com\", \"tokn\": \"x\"}],\n\"projects\": [{\"id\": \"p1\", \"instances\": [{\"name\": \"vm\", \"zone\": \"us-central1-a\",\n\"statuss\": \"RUNNING\"}]}]}", 1, "unknown key \"tokn\" in a user (did you mean token?)\nw.json:3: unknown key \"statuss\" in an instance (did you mean status?)"},
		{"json unknown", "w.json", "{\"users\": [], \"foo\": 1}", 1, "unknown key \"foo\""},
		{"json repeated key", "w.json", "{\"users\": [{\"email\": \"a@example.com\"}],\n\"projects\": [{\"id\": \"p1\", \"labels\": {}, \"instances\": [{\"name\": \"vm\", \"zone\": \"us-central1-a\",\n\"status\": \"RUNNING\",\n\"status\": \"TERMINATED\"}]}]}", 4, "key \"status\" is repeated in this object (first on line 3)"},
		{"json validation line", "w.json", "{\"users\": [{\"email\": \"a@example.com\"}],\n\"projects\": [\n{\"id\": \"P\"}]}", 3, "project ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.file) {
				t.Errorf("error does not name the file: %s", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			var line int
			var e *Error
			var es Errors
			switch {
			case errors.As(err, &es):
				line = es[0].Line
			case errors.As(err, &e):
				line = e.Line
			}
			if line != tt.line {
				t.Errorf("line = %d, want %d (%s)", line, tt.line, msg)
			}
		})
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	w, err := Parse([]byte(minimal), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	w.Projects[0].Instances[0].Backends = map[int]string{0: "x"}
	if err := w.Validate(); err == nil || !strings.Contains(err.Error(), "outside 1-65535") {
		t.Fatalf("Validate = %v", err)
	}
}

func TestDemoWorld(t *testing.T) {
	w := Demo()
	if w.DefaultUser().Email != "demo@example.com" || len(w.Users) < 2 {
		t.Fatalf("users: %+v", w.Users)
	}
	zones := map[string]bool{}
	var vms, linux, windows, running, terminated, osLoginOn, osLoginOff, sharedVPC int
	for _, p := range w.Projects {
		for _, in := range p.Instances {
			vms++
			zones[in.Zone] = true
			if in.IsWindows() {
				windows++
			} else {
				linux++
				if in.Backends[22] != BuiltinSSH {
					t.Errorf("%s/%s: Linux VM without builtin-ssh on port 22", p.ID, in.Name)
				}
			}
			switch in.Status {
			case "RUNNING":
				running++
			case "TERMINATED":
				terminated++
			}
			v, ok := in.Metadata["enable-oslogin"]
			if !ok {
				v = p.Metadata["enable-oslogin"]
			}
			if strings.EqualFold(v, "true") {
				osLoginOn++
			} else {
				osLoginOff++
			}
			if strings.HasPrefix(in.Network, "projects/") && !strings.HasPrefix(in.Network, "projects/"+p.ID+"/") {
				sharedVPC++
			}
		}
	}
	if len(w.Projects) < 3 || len(zones) < 4 || vms < 25 || linux == 0 || windows == 0 || running == 0 || terminated == 0 ||
		osLoginOn == 0 || osLoginOff == 0 || sharedVPC == 0 {
		t.Fatalf("demo world too small: projects=%d zones=%d vms=%d linux=%d windows=%d running=%d terminated=%d oslogin on/off=%d/%d shared=%d",
			len(w.Projects), len(zones), vms, linux, windows, running, terminated, osLoginOn, osLoginOff, sharedVPC)
	}
	// The denied VM and the VM without a firewall rule are checked against
	// live semantics in package cloud; here: they exist.
	found := 0
	for _, p := range w.Projects {
		for _, in := range p.Instances {
			if in.Name == "analytics-win" || in.Name == "no-firewall" {
				found++
			}
		}
	}
	if found != 2 {
		t.Fatalf("demo world lacks analytics-win or no-firewall")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal), "w.yaml")
	f.Add([]byte(`{"users":[{"email":"a@b"}],"projects":[{"id":"pp"}]}`), "w.json")
	f.Add([]byte("users: &a [*a]\n"), "w.yaml")
	f.Add([]byte("projects:\n  - id: p\n    instances:\n      - {name: v, zone: us-east1-b, backends: {22: x}}\n"), "w.yml")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		w, err := Parse(data, name)
		if err == nil {
			if w == nil {
				t.Fatal("nil world without error")
			}
			if err := w.Validate(); err != nil {
				t.Fatalf("Parse accepted a world Validate rejects: %v", err)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// TestReadmeExample keeps the world file example in README.md valid.
func TestReadmeExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	start := strings.Index(s, "<!-- section:emulator -->")
	end := strings.Index(s, "<!-- /section:emulator -->")
	if start < 0 || end < start {
		t.Fatal("README has no emulator section")
	}
	s = s[start:end]
	i := strings.Index(s, "```yaml\n")
	if i < 0 {
		t.Fatal("no YAML example in the emulator section")
	}
	s = s[i+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	w, err := Parse([]byte(s), "README.md")
	if err != nil {
		t.Fatal(err)
	}
	if w.DefaultUser().Email != "alice@example.com" || len(w.Projects[0].Instances) != 2 {
		t.Fatalf("parsed example: %+v", w)
	}
}

func TestLoadResolvesAuthorizedKeysFile(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/w.yaml"
	data := minimal + "        authorizedKeysFile: keys/%u\n        authorizedKeysUser: alice\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	in := w.Projects[0].Instances[0]
	if want := dir + "/keys/%u"; in.AuthorizedKeysFile != want || in.AuthorizedKeysUser != "alice" {
		t.Fatalf("authorizedKeysFile %q user %q, want %q alice", in.AuthorizedKeysFile, in.AuthorizedKeysUser, want)
	}
}

// The YAML library's messages name Go types; the user must read what is
// wrong in the file's own terms, where.
func TestParseYAMLTypeErrorsReadable(t *testing.T) {
	data := minimal + "        statuss: RUNNING\n    number: abc\n    firewalls:\n      - name: f\n        disabled: maybe\n        allowed: [{IPProtocol: tcp}]\n    instancez: []\n"
	_, err := Parse([]byte(data), "w.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`w.yaml:8: projects[0].instances[0].statuss: unknown key "statuss" in an instance (did you mean status?)`,
		`w.yaml:9: projects[0].number: expected a whole number, found the text "abc"`,
		`w.yaml:12: projects[0].firewalls[0].disabled: expected true or false, found the text "maybe"`,
		`w.yaml:14: projects[0].instancez: unknown key "instancez" in a project (did you mean instances?)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "world.") || strings.Contains(msg, "int64") || strings.Contains(msg, "!!") {
		t.Errorf("message names Go or YAML internals:\n%s", msg)
	}
	_, err = Parse([]byte(minimal+"    foo: 1\n"), "w.yaml")
	if err == nil || !strings.Contains(err.Error(), "the keys are id, number") {
		t.Errorf("unknown key without a near match should list the keys: %v", err)
	}
}

// A repeated instance is one mistake and is reported once (its derived id
// repeats too), and problems come in the file's line order.
func TestParseErrorsOncePerMistakeInLineOrder(t *testing.T) {
	data := minimal + "        machineType: \"e2 medium\"\n        internalIP: 10.0.0.300\n      - name: vm-1\n        zone: us-central1-a\n"
	_, err := Parse([]byte(data), "w.yaml")
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v", err)
	}
	if len(es) != 3 {
		t.Fatalf("%d problems, want 3:\n%v", len(es), err)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Line < es[i-1].Line {
			t.Errorf("not in line order:\n%v", err)
		}
	}
	if strings.Contains(err.Error(), "instance id") {
		t.Errorf("the derived id is reported as well:\n%v", err)
	}
}

// A role the emulator does not model is allowed (it grants nothing); only
// a near miss of one it knows is refused.
func TestParseAllowsOtherRoles(t *testing.T) {
	data := minimal + "    iam:\n      - role: roles/storage.admin\n        members: [user:a@example.com]\n      - role: roles/iap.tunnelResourceAccessor\n        members: [user:a@example.com]\n"
	if _, err := Parse([]byte(data), "w.yaml"); err != nil {
		t.Fatal(err)
	}
}

// Document markers around the one document are fine.
func TestParseDocumentMarkers(t *testing.T) {
	for _, data := range []string{"---\n" + minimal, minimal + "---\n", "---\n" + minimal + "...\n"} {
		if _, err := Parse([]byte(data), "w.yaml"); err != nil {
			t.Errorf("%q: %v", data, err)
		}
	}
}
