//go:build !windows

package termio

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// watchSize calls f with the new size after each SIGWINCH.
func watchSize(fd int, f func(cols, rows int)) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				if c, r, err := term.GetSize(fd); err == nil {
					f(c, r)
				}
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
