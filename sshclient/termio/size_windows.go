//go:build windows

package termio

import (
	"time"

	"golang.org/x/term"
)

// watchSize polls the console size: Windows has no SIGWINCH.
func watchSize(fd int, f func(cols, rows int)) (stop func()) {
	done := make(chan struct{})
	go func() {
		c0, r0, _ := term.GetSize(fd)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if c, r, err := term.GetSize(fd); err == nil && (c != c0 || r != r0) {
					c0, r0 = c, r
					f(c, r)
				}
			}
		}
	}()
	return func() { close(done) }
}
