package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A link opened from a desktop runs in a terminal window that closes when
// iapterm exits: with --pause-on-error (which the registered handler
// passes) the error stays readable until Enter.
func TestOpenPauseOnError(t *testing.T) {
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader("\n"))
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("open", "--pause-on-error", "https://example.com/x")
	var ec exitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 1 || err.Error() != "" {
		t.Fatalf("err %v: want exit 1 with the message already shown", err)
	}
	if !strings.Contains(out, `iapterm: not an iap-rdp link (scheme "https")`) || !strings.Contains(out, "Press Enter to close this window.") {
		t.Fatalf("output %q", out)
	}
	// Without the flag: no pause, the error is returned for main to print.
	out, err = run("open", "https://example.com/x")
	if err == nil || !strings.Contains(err.Error(), "not an iap-rdp link") || strings.Contains(out, "Press Enter") {
		t.Fatalf("without --pause-on-error: %v, %q", err, out)
	}
}
