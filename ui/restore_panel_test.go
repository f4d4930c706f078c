package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

type recordingPanel struct{ got []tea.Msg }

func (p *recordingPanel) Init() tea.Cmd              { return nil }
func (p *recordingPanel) Update(msg tea.Msg) tea.Cmd { p.got = append(p.got, msg); return nil }
func (p *recordingPanel) View() string               { return "recording panel" }
func (p *recordingPanel) SetSize(w, h int)           {}
func (p *recordingPanel) ShortHelp() []key.Binding   { return nil }
