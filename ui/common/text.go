package common

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Truncate cuts s (which may hold styles) to width cells with an ellipsis.
func Truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	return ansi.Truncate(s, width, "…")
}

// WrapWords wraps plain text to w cells at spaces only, keeping each line's
// indentation: lipgloss also breaks at hyphens, which cut the commands in
// messages in the middle of a flag (--source-, ranges=...). The lines a
// long line wraps into are indented like it, so an indented command reads
// as one block. A word wider than the room left is cut, its pieces
// indented too; indentation is capped at half of w so words keep room.
func WrapWords(s string, w int) string {
	w = max(w, 2)
	var out []string
	for _, line := range strings.Split(s, "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		if len(indent) > w/2 {
			indent = indent[:w/2]
		}
		cur := indent
		for _, word := range strings.Fields(line) {
			switch {
			case cur == indent:
				cur += word
			case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= w:
				cur += " " + word
			default:
				out = append(out, cur)
				cur = indent + word
			}
			for ansi.StringWidth(cur) > w {
				out = append(out, ansi.Truncate(cur, w, ""))
				cur = indent + ansi.TruncateLeft(cur, w, "")
			}
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// WrapLines wraps plain text to width cells at spaces only (a word wider
// than width is cut), as WrapWords, and returns its lines; every line is
// at most width wide.
func WrapLines(s string, width int) []string {
	return strings.Split(WrapWords(s, max(width, 2)), "\n")
}

// PadRight pads s (which may hold styles) to exactly width cells.
func PadRight(s string, width int) string {
	s = Truncate(s, width)
	if w := lipgloss.Width(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// FitLines cuts or pads s to exactly h lines of width w.
func FitLines(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = PadRight(l, w)
	}
	return strings.Join(lines, "\n")
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Age formats how long ago t was, coarsely.
func Age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
