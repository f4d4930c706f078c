//go:build windows

package rdp

func isSessionLeader() bool { return true }
