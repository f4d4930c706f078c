package common

import (
	"charm.land/lipgloss/v2"
)

// Styles are the shared look. Colours are the 16 ANSI ones so the user's
// terminal theme decides the exact shade; selection uses reverse video so it
// stays visible with NO_COLOR.
type Styles struct {
	App          lipgloss.Style
	Title        lipgloss.Style
	Pane         lipgloss.Style
	PaneFocused  lipgloss.Style
	PaneTitle    lipgloss.Style
	Selected     lipgloss.Style
	Dim          lipgloss.Style
	Key          lipgloss.Style
	Label        lipgloss.Style
	Value        lipgloss.Style
	Running      lipgloss.Style
	Stopped      lipgloss.Style
	Transition   lipgloss.Style
	Error        lipgloss.Style
	ErrorTitle   lipgloss.Style
	Warning      lipgloss.Style
	Info         lipgloss.Style
	StatusBar    lipgloss.Style
	Dialog       lipgloss.Style
	DialogTitle  lipgloss.Style
	Button       lipgloss.Style
	ButtonActive lipgloss.Style
	Marker       lipgloss.Style
	Project      lipgloss.Style
	Zone         lipgloss.Style
	FilterPrompt lipgloss.Style
	HelpSection  lipgloss.Style
	ErrorPanel   lipgloss.Style
	TableHeader  lipgloss.Style
	CheckboxOn   lipgloss.Style
	CheckboxOff  lipgloss.Style
}

// DefaultStyles returns the standard styles.
func DefaultStyles() *Styles {
	border := lipgloss.RoundedBorder()
	accent := lipgloss.BrightBlue
	return &Styles{
		App:          lipgloss.NewStyle(),
		Title:        lipgloss.NewStyle().Bold(true).Foreground(accent),
		Pane:         lipgloss.NewStyle().Border(border).BorderForeground(lipgloss.BrightBlack),
		PaneFocused:  lipgloss.NewStyle().Border(border).BorderForeground(accent),
		PaneTitle:    lipgloss.NewStyle().Bold(true),
		Selected:     lipgloss.NewStyle().Reverse(true),
		Dim:          lipgloss.NewStyle().Foreground(lipgloss.BrightBlack),
		Key:          lipgloss.NewStyle().Bold(true).Foreground(accent),
		Label:        lipgloss.NewStyle().Foreground(lipgloss.BrightBlack),
		Value:        lipgloss.NewStyle(),
		Running:      lipgloss.NewStyle().Foreground(lipgloss.Green),
		Stopped:      lipgloss.NewStyle().Foreground(lipgloss.BrightBlack),
		Transition:   lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		Error:        lipgloss.NewStyle().Foreground(lipgloss.Red),
		ErrorTitle:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.BrightRed),
		Warning:      lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		Info:         lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		StatusBar:    lipgloss.NewStyle().Foreground(lipgloss.BrightWhite).Background(lipgloss.Blue),
		Dialog:       lipgloss.NewStyle().Border(border).BorderForeground(accent).Padding(0, 1),
		DialogTitle:  lipgloss.NewStyle().Bold(true).Foreground(accent),
		Button:       lipgloss.NewStyle().Padding(0, 1),
		ButtonActive: lipgloss.NewStyle().Padding(0, 1).Reverse(true).Bold(true),
		Marker:       lipgloss.NewStyle().Foreground(lipgloss.BrightGreen).Bold(true),
		Project:      lipgloss.NewStyle().Bold(true),
		Zone:         lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		FilterPrompt: lipgloss.NewStyle().Foreground(accent).Bold(true),
		HelpSection:  lipgloss.NewStyle().Bold(true).Underline(true),
		ErrorPanel:   lipgloss.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(lipgloss.Red).Padding(0, 1),
		TableHeader:  lipgloss.NewStyle().Bold(true).Underline(true),
		CheckboxOn:   lipgloss.NewStyle().Foreground(lipgloss.Green).Bold(true),
		CheckboxOff:  lipgloss.NewStyle().Foreground(lipgloss.BrightBlack),
	}
}

// StatusStyle picks the style for an instance status.
func (s *Styles) StatusStyle(status string) lipgloss.Style {
	switch status {
	case "RUNNING":
		return s.Running
	case "TERMINATED", "STOPPED", "SUSPENDED":
		return s.Stopped
	default:
		return s.Transition
	}
}
