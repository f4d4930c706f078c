package dialog

// maxWidth is the widest a dialog draws, so it stays readable on big screens.
const maxWidth = 64

func width(avail int) int {
	w := avail - 4
	if w > maxWidth {
		w = maxWidth
	}
	if w < 20 {
		w = 20
	}
	return w
}
