package sessions

import (
	"errors"
	"strings"

	tea "charm.land/bubbletea/v2"

	"iapterm/ui/common"
)

// promptDialog asks a keyboard-interactive round's questions one by one;
// secret answers (echo off) are drawn as dots.
type promptDialog struct {
	tab     *tab
	p       Prompt
	answer  chan promptAnswer
	i       int
	input   []rune
	answers []string
}

func newPromptDialog(t *tab, p Prompt, answer chan promptAnswer) *promptDialog {
	return &promptDialog{tab: t, p: p, answer: answer}
}

func (d *promptDialog) echo() bool { return d.i < len(d.p.Echo) && d.p.Echo[d.i] }

// key edits the answer; done is true when every question is answered or
// the user cancelled (err set).
func (d *promptDialog) key(k tea.KeyPressMsg) (done bool, answers []string, err error) {
	switch k.String() {
	case "esc", "ctrl+c":
		return true, nil, errors.New("you cancelled the verification prompt")
	case "enter":
		d.answers = append(d.answers, string(d.input))
		d.input = nil
		d.i++
		if d.i >= len(d.p.Questions) {
			return true, d.answers, nil
		}
	case "backspace":
		if len(d.input) > 0 {
			d.input = d.input[:len(d.input)-1]
		}
	case "ctrl+u":
		d.input = nil
	default:
		if k.Text != "" {
			d.input = append(d.input, []rune(k.Text)...)
		}
	}
	return false, nil, nil
}

func (d *promptDialog) paste(s string) {
	d.input = append(d.input, []rune(strings.TrimRight(s, "\r\n"))...)
}

func (d *promptDialog) view(st *common.Styles) string {
	var b strings.Builder
	b.WriteString(st.DialogTitle.Render(d.tab.inst.Name+" asks") + "\n\n")
	if d.p.Instruction != "" {
		b.WriteString(d.p.Instruction + "\n\n")
	}
	q := ""
	if d.i < len(d.p.Questions) {
		q = d.p.Questions[d.i]
	}
	shown := string(d.input)
	if !d.echo() {
		shown = strings.Repeat("•", len(d.input))
	}
	b.WriteString(q + shown + "█\n\n")
	b.WriteString(st.Dim.Render("enter answers · esc cancels"))
	return b.String()
}
