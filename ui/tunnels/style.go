package tunnels

// columns of the table; instance and project share what the fixed ones
// leave, and the zone column goes first on narrow screens.
type column struct {
	title string
	width int // 0: flexible
}

var columns = []column{
	{"INSTANCE", 0}, {"PROJECT", 0}, {"ZONE", 13}, {"PORT", 5}, {"LOCAL ADDRESS", 15},
	{"IN", 9}, {"OUT", 9}, {"CONNS", 5}, {"AGE", 6},
}

// dropOrder is the order in which narrow screens drop columns so the
// instance and project names keep room: zone, age, connections, bytes
// out, bytes in.
var dropOrder = []int{2, 8, 7, 6, 5}

// minFlex is the room instance and project names need between them.
const minFlex = 20

// widths returns the width of each column for a table w cells wide; a
// width of -1 drops the column.
func widths(w int) []int {
	out := make([]int, len(columns))
	for i, c := range columns {
		out[i] = c.width
	}
	flex := func() int {
		used := 0 // a separator per column: one cell of slack at the end
		for _, n := range out {
			if n >= 0 {
				used += n + 1
			}
		}
		return w - used
	}
	for _, i := range dropOrder {
		if flex() >= minFlex {
			break
		}
		out[i] = -1
	}
	f := max(flex(), 8)
	out[0] = f / 2
	out[1] = f - out[0]
	return out
}
