// Package termio connects an sshclient.Session to the process's own
// terminal: raw mode, a PTY of the terminal's size and type, window-size
// changes forwarded, and the terminal restored afterwards. The CLI uses it;
// the TUI has its own terminal pane.
package termio

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"iapterm/sshclient"
)

// Options of Run.
type Options struct {
	// Command runs instead of the login shell when not empty.
	Command string
	// Term is the terminal type; $TERM, else xterm-256color, when empty.
	Term string
	// PTY asks for a remote terminal (when in and out are terminals).
	PTY bool
}

// Run runs s in the terminal in and out, and returns the remote exit
// status. A PTY is requested only when o.PTY is set and in and out are
// terminals; otherwise input is copied as it comes and closed at its end.
func Run(ctx context.Context, s *sshclient.Session, in *os.File, out *os.File, errOut io.Writer, o Options) (int, error) {
	inFd, outFd := int(in.Fd()), int(out.Fd())
	tty := o.PTY && term.IsTerminal(inFd) && term.IsTerminal(outFd)
	if tty {
		cols, rows, err := term.GetSize(outFd)
		if err != nil {
			cols, rows = 80, 24
		}
		tt := o.Term
		if tt == "" {
			tt = os.Getenv("TERM")
		}
		if err := s.RequestPTY(tt, cols, rows); err != nil {
			return -1, err
		}
		old, err := term.MakeRaw(inFd)
		if err != nil {
			return -1, fmt.Errorf("switching the terminal to raw mode: %w", err)
		}
		defer term.Restore(inFd, old)
		stop := watchSize(outFd, func(c, r int) { s.WindowChange(c, r) })
		defer stop()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(out, s.Stdout) }()
	go func() { defer wg.Done(); io.Copy(errOut, s.Stderr) }()
	go func() {
		// This reader may stay blocked on the terminal after the session
		// ends; the process exits soon after.
		io.Copy(s.Stdin, in)
		if !tty {
			s.Stdin.Close()
		}
	}()
	var err error
	if o.Command != "" {
		err = s.Start(o.Command)
	} else {
		err = s.Shell()
	}
	if err != nil {
		return -1, fmt.Errorf("starting the remote %s: %w", map[bool]string{true: "command", false: "shell"}[o.Command != ""], err)
	}
	stopCtx := context.AfterFunc(ctx, func() { s.Close() })
	defer stopCtx()
	code, err := s.Wait()
	wg.Wait()
	return code, err
}
