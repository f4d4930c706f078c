package tunnels

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"iapterm/ui/common"
)

// On a narrow screen the panel drops the zone, age, connections and
// bytes out before it cuts the instance and project names, so a row
// still says where the tunnel goes; wide screens show every column.
func TestNarrowPanelKeepsNames(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	info := common.TunnelInfo{
		Target:    common.TunnelTarget{Project: "acme-dev", Zone: "us-east1-b", Instance: "dev-alice", Port: 22},
		LocalAddr: "127.0.0.1:40795", Opened: now.Add(-time.Minute),
	}
	for _, tc := range []struct {
		w          int
		want, gone []string
	}{
		{58, []string{"dev-alice", "acme-dev", "PORT", "LOCAL ADDRESS", "IN"}, []string{"ZONE", "AGE", "CONNS", "OUT"}},
		{78, []string{"dev-alice", "acme-dev", "PORT", "LOCAL ADDRESS", "IN", "OUT", "CONNS"}, []string{"ZONE"}},
		{136, []string{"dev-alice", "acme-dev", "us-east1-b", "ZONE", "OUT", "CONNS", "AGE"}, nil},
	} {
		c := &common.Common{Ctx: context.Background(), Width: tc.w, Height: 3, Styles: common.DefaultStyles(), Now: func() time.Time { return now }}
		m := New(c)
		m.list = []common.TunnelInfo{info}
		view := ansi.Strip(m.View(false))
		for _, l := range strings.Split(view, "\n") {
			if n := ansi.StringWidth(l); n > tc.w {
				t.Errorf("%d: line %d wide: %q", tc.w, n, l)
			}
		}
		fields := " " + strings.Join(strings.Fields(view), " ") + " "
		for _, w := range tc.want {
			if !strings.Contains(fields, " "+w+" ") {
				t.Errorf("%d columns: %q is not shown whole:\n%s", tc.w, w, view)
			}
		}
		for _, g := range tc.gone {
			if strings.Contains(fields, " "+g+" ") {
				t.Errorf("%d columns: %q is shown:\n%s", tc.w, g, view)
			}
		}
	}
}
