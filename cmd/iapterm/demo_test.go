package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunDemoOpensATunnel runs the demo in-process and uses its tunnel.
func TestRunDemoOpensATunnel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, pw, io.Discard)
		pw.Close()
	}()
	var text strings.Builder
	sc := bufio.NewScanner(pr)
	var port string
	for sc.Scan() {
		text.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`Tunnel open: 127\.0\.0\.1:(\d+) `).FindStringSubmatch(sc.Text()); m != nil {
			port = m[1]
		}
		if strings.Contains(sc.Text(), "Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	out := text.String()
	for _, want := range []string{"export IAPTERM_ENDPOINT=http://127.0.0.1:", "export IAPTERM_ACCESS_TOKEN=", "iapterm ssh dev-alice --project acme-dev --zone us-east1-b", "demo@127.0.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if port == "" {
		t.Fatalf("no tunnel port in:\n%s", out)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("through the demo tunnel: %q %v", banner, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the demo did not stop when its context ended")
	}
}

func TestDemoUsername(t *testing.T) {
	for in, want := range map[string]string{"demo@example.com": "demo", "Jane.Doe+x@corp.example": "jane_doe_x"} {
		if got := demoUsername(in); got != want {
			t.Errorf("demoUsername(%q) = %q, want %q", in, got, want)
		}
	}
}

// iapterm without a command opens the explorer, so it takes the explorer's
// flags as iapterm ui does: `iapterm --demo --state -` used to fail with
// "unknown flag: --state".
func TestRootTakesTheExplorerFlags(t *testing.T) {
	root := newRootCmd()
	if err := root.ParseFlags([]string{"--demo", "--state", "-", "--ascii", "--no-mouse", "--project", "a", "--project", "b", "--no-cache"}); err != nil {
		t.Fatal(err)
	}
	o := rootTUIOptions()
	if !o.Demo || o.StatePath != "-" || !o.ASCII || !o.NoMouse || !o.NoCache || strings.Join(o.Projects, ",") != "a,b" {
		t.Fatalf("options %+v", o)
	}
	if names := changedTUIFlags(root); strings.Join(names, " ") != "--project --state --no-cache --no-mouse --ascii" {
		t.Fatalf("changed %v", names)
	}
	// A fresh command starts from the defaults again.
	root = newRootCmd()
	if err := root.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if o := rootTUIOptions(); o.StatePath != "" || o.Demo || len(o.Projects) != 0 {
		t.Fatalf("defaults %+v", o)
	}
	// Without a terminal and without --demo they cannot be used: said so.
	out, code := policyRunCLI(t, "--state", "-")
	if code != 1 || !strings.Contains(out, "--state: only for the explorer, which needs a terminal") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
