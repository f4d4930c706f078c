package dialog

import (
	"errors"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"iapterm/ui/common"
)

// Commands in an error are wrapped between words, never inside a flag,
// so what the panel shows can be typed back as it reads.
func TestErrorPanelWrapsBetweenWords(t *testing.T) {
	c := &common.Common{Width: 140, Height: 40, Styles: common.DefaultStyles()}
	p := NewErrorPanel(c)
	cmd := "gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:3389 --source-ranges=35.235.240.0/20"
	p.Push(common.ErrorRaisedMsg{Title: "RDP", Err: errors.New("IAP could not connect to port 3389; allow it with:\n  " + cmd), Hint: "Run " + cmd + " again."})
	view := ansi.Strip(p.View())
	var words []string
	for _, l := range strings.Split(view, "\n") {
		words = append(words, strings.Fields(strings.Trim(l, "│┃ "))...)
	}
	joined := " " + strings.Join(words, " ") + " "
	for _, f := range strings.Fields(cmd) {
		if strings.Count(joined, " "+f+" ") < 2 {
			t.Errorf("%q is not shown whole in the error and the hint:\n%s", f, view)
		}
	}
}
