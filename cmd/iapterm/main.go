// Command iapterm is a terminal connection manager for Google Cloud VMs
// reached through Identity-Aware Proxy TCP forwarding.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a clean end (which may wait a few seconds
	// for a tunnel's last bytes to be acknowledged); a second one ends the
	// process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "iapterm:", msg)
		}
		os.Exit(ec.ExitCode())
	}
	fmt.Fprintln(os.Stderr, "iapterm:", err)
	os.Exit(1)
}

// exitCoder is an error that asks for a specific exit status.
type exitCoder interface {
	error
	ExitCode() int
}

// exitError carries an exit status and an optional message ("" prints nothing).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }
