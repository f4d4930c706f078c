//go:build !windows

package rdp

import "golang.org/x/sys/unix"

func isSessionLeader() bool {
	sid, err := unix.Getsid(0)
	return err == nil && sid == unix.Getpid()
}
