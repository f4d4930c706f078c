//go:build unix

package agent

import (
	"errors"
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
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "ABRT", syscall.SIGALRM: "ALRM", syscall.SIGFPE: "FPE", syscall.SIGHUP: "HUP",
		syscall.SIGILL: "ILL", syscall.SIGINT: "INT", syscall.SIGKILL: "KILL", syscall.SIGPIPE: "PIPE",
		syscall.SIGQUIT: "QUIT", syscall.SIGSEGV: "SEGV", syscall.SIGTERM: "TERM", syscall.SIGUSR1: "USR1",
		syscall.SIGUSR2: "USR2",
	}
	if n, ok := names[ws.Signal()]; ok {
		return n, true
	}
	return strings.TrimPrefix(strings.ToUpper(ws.Signal().String()), "SIG"), true
}
