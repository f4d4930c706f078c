//go:build windows

package rdp

import (
	"os/exec"
	"syscall"
)

// detach starts the client in a new process group, so Ctrl+C in the
// console does not reach it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// terminate ends the client.
func terminate(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

// kill ends the client; terminate already does so on Windows.
func kill(cmd *exec.Cmd) error { return terminate(cmd) }
