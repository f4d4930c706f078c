package explorer

// Column widths of an instance row.
const (
	statusWidth = 11 // "TERMINATED" + space
	indentZone  = 2
	indentInst  = 4
)
