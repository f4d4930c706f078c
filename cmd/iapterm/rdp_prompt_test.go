package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// Ctrl-C at a prompt of iapterm rdp / windows-credentials ends the wait
// at once: the first Ctrl-C only cancels the context, so a prompt that
// kept reading would hang until Enter.
func TestRDPAskCancelledByCtrlC(t *testing.T) {
	pr, pw := io.Pipe() // a terminal nobody types in
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	ok, err := rdpAsk(ctx, bufio.NewReader(pr), &out, "Continue?", true)
	if ok || !errors.Is(err, errRDPPromptCancelled) {
		t.Fatalf("rdpAsk after Ctrl-C = %v, %v", ok, err)
	}
	var ec exitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 130 {
		t.Fatalf("error %v does not exit with 130", err)
	}
	if !strings.HasPrefix(out.String(), "Continue? [Y/n] ") {
		t.Fatalf("prompt %q", out.String())
	}
}

func TestRDPAskAnswers(t *testing.T) {
	for in, want := range map[string]bool{"\n": true, "y\n": true, "yes\n": true, "n\n": false, "no\n": false, "": true} {
		ok, err := rdpAsk(context.Background(), bufio.NewReader(strings.NewReader(in)), io.Discard, "Continue?", true)
		if err != nil || ok != want {
			t.Errorf("answer %q: %v, %v; want %v", in, ok, err, want)
		}
	}
}
