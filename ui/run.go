package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	tea "charm.land/bubbletea/v2"
)

// Run runs the TUI until the user quits or ctx ends. When it returns the
// terminal is restored, the state file is written and every tunnel is
// closed. Bubble Tea recovers a panic in Update, View or a command and
// restores the terminal before Run returns the error.
func Run(ctx context.Context, opts Options, progOpts ...tea.ProgramOption) error {
	m := New(ctx, opts)
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, progOpts...)...)
	_, runErr := p.Run()
	if err := m.SaveState(); err != nil {
		slog.Warn("saving the UI state", "err", err)
	}
	// Before the tunnels close: the open ones are what to restore.
	if err := m.SaveSessions(); err != nil {
		slog.Warn("saving the sessions to restore", "err", err)
	}
	if t := opts.Backend.Tunnels; t != nil {
		if err := t.CloseAll(); err != nil {
			slog.Warn("closing tunnels", "err", err)
		}
	}
	if errors.Is(runErr, tea.ErrProgramPanic) {
		return fmt.Errorf("the terminal UI failed (a bug; please report it): %w", runErr)
	}
	if runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled) && !errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("running the terminal UI: %w", runErr)
	}
	return nil
}
