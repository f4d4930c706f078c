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

// widths returns the width of each column for a table w cells wide; a
// width of -1 drops the column.
func widths(w int) []int {
	out := make([]int, len(columns))
	fixed := 0
	for i, c := range columns {
		out[i] = c.width
		fixed += c.width + 1
	}
	flex := w - fixed
	if flex < 20 {
		out[2] = -1 // drop the zone
		flex += columns[2].width + 1
	}
	if flex < 8 {
		flex = 8
	}
	out[0] = flex / 2
	out[1] = flex - out[0]
	return out
}
