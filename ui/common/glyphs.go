package common

import "iapterm/projects"

// Glyphs are the symbols the tree uses, with plain ASCII stand-ins.
type Glyphs struct {
	Expanded, Collapsed string
	Linux, Windows      string
	Marker              string
	Warning             string
	Check, Uncheck      string
	Cursor              string
}

var unicodeGlyphs = Glyphs{
	Expanded: "▾", Collapsed: "▸",
	Linux: "λ", Windows: "⊞",
	Marker:  "●",
	Warning: "!",
	Check:   "[x]", Uncheck: "[ ]",
	Cursor: "›",
}

var asciiGlyphs = Glyphs{
	Expanded: "-", Collapsed: "+",
	Linux: "L", Windows: "W",
	Marker:  "*",
	Warning: "!",
	Check:   "[x]", Uncheck: "[ ]",
	Cursor: ">",
}

// Glyphs returns the glyph set for this terminal.
func (c *Common) Glyphs() Glyphs {
	if c.ASCII {
		return asciiGlyphs
	}
	return unicodeGlyphs
}

// OSGlyph is the symbol for an instance's OS.
func (g Glyphs) OSGlyph(os projects.OS) string {
	if os == projects.Windows {
		return g.Windows
	}
	return g.Linux
}
