//go:build unix

package agent

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// exitSignal names the signal that killed a command ("TERM", "KILL", ...),
// as SSH's exit-signal request wants it.
func exitSignal(err error) (string, bool) {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return "", false
	}
	for n, sig := range signals {
		if sig == ws.Signal() {
			return n, true
		}
	}
	return strings.TrimPrefix(strings.ToUpper(ws.Signal().String()), "SIG"), true
}

// signals are the names SSH uses for signals (RFC 4254, section 6.10).
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// signalByName returns the signal an SSH "signal" request names.
func signalByName(name string) (os.Signal, bool) {
	sig, ok := signals[name]
	return sig, ok
}
