//go:build !windows

package rdp

import (
	"os/exec"
	"syscall"
)

// detach starts the client in its own session: its own process group
// (Ctrl-C in the terminal does not reach it) and no controlling terminal
// (FreeRDP then reads the password from stdin instead of /dev/tty).
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// terminate asks the client's whole process group to end.
func terminate(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	return nil
}

// kill ends the client's whole process group at once, for a client that
// did not end when asked.
func kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return cmd.Process.Kill()
	}
	return nil
}
