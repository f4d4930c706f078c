package termpane

import (
	"strconv"
	"unicode"

	tea "charm.land/bubbletea/v2"
)

// Encode turns a key press into the bytes an xterm-compatible terminal
// sends for it. appCursor is DECCKM (application cursor keys), which vim,
// less and readline switch on. It returns "" for keys with no encoding.
//
// Keypad keys (which Bubble Tea reports apart from the main keys when the
// host terminal speaks the kitty keyboard protocol or is in application
// keypad mode) send what their main-keyboard twins send, as in xterm's
// normal keypad mode.
func Encode(k tea.KeyPressMsg, appCursor bool) string {
	if c, ok := keypadKeys[k.Code]; ok {
		k.Code = c
		if k.Text == "" && k.Mod&^(tea.ModShift|tea.ModCapsLock|tea.ModNumLock|tea.ModScrollLock) == 0 && c > ' ' && c < tea.KeyExtended {
			k.Text = string(c)
		}
	}
	mod := k.Mod &^ (tea.ModCapsLock | tea.ModNumLock | tea.ModScrollLock)
	if k.Text != "" && mod&(tea.ModCtrl|tea.ModAlt) == tea.ModCtrl|tea.ModAlt && printable(k.Text) {
		// AltGr, which Windows reports as ctrl+alt with the character it
		// typed (a ctrl+alt chord has no text): the character.
		return k.Text
	}
	alt := mod&tea.ModAlt != 0
	if alt {
		if s := encodeSpecial(k.Code, k.Mod, appCursor); s != "" {
			return s // alt is a parameter of cursor and function keys
		}
		mod &^= tea.ModAlt
		if s := Encode(tea.KeyPressMsg{Code: k.Code, ShiftedCode: k.ShiftedCode, Text: k.Text, Mod: mod | k.Mod&tea.ModCapsLock}, appCursor); s != "" {
			return "\x1b" + s
		}
		return ""
	}
	ctrl := mod&tea.ModCtrl != 0
	shift := mod&tea.ModShift != 0
	if k.Text != "" && !ctrl {
		return k.Text
	}
	switch k.Code {
	case tea.KeyEnter:
		return "\r"
	case tea.KeyTab:
		if shift {
			return "\x1b[Z"
		}
		return "\t"
	case tea.KeyBackspace:
		if ctrl {
			return "\x08"
		}
		return "\x7f"
	case tea.KeyEscape:
		return "\x1b"
	case tea.KeySpace:
		if ctrl {
			return "\x00"
		}
		return " "
	}
	if ctrl {
		if b, ok := ctrlByte(k.Code); ok {
			return string(rune(b))
		}
	}
	if s := encodeSpecial(k.Code, mod, appCursor); s != "" {
		return s
	}
	// A printable key without text: shift or alt+shift under the kitty
	// protocol, or ctrl with a key that has no control character (ctrl+1,
	// ctrl+.), which xterm sends as the key itself.
	if mod&^(tea.ModShift|tea.ModCtrl) == 0 && k.Code >= 0x20 && k.Code != 0x7f && k.Code < tea.KeyExtended {
		c := k.Code
		if shift || k.Mod&tea.ModCapsLock != 0 {
			if k.ShiftedCode != 0 {
				c = k.ShiftedCode
			} else {
				c = unicode.ToUpper(c)
			}
		}
		return string(c)
	}
	return ""
}

// keypadKeys maps keypad keys to the main keys they stand for.
var keypadKeys = map[rune]rune{
	tea.KeyKpEnter: tea.KeyEnter, tea.KeyKpEqual: '=', tea.KeyKpMultiply: '*',
	tea.KeyKpPlus: '+', tea.KeyKpComma: ',', tea.KeyKpMinus: '-',
	tea.KeyKpDecimal: '.', tea.KeyKpDivide: '/', tea.KeyKpSep: ',',
	tea.KeyKp0: '0', tea.KeyKp1: '1', tea.KeyKp2: '2', tea.KeyKp3: '3', tea.KeyKp4: '4',
	tea.KeyKp5: '5', tea.KeyKp6: '6', tea.KeyKp7: '7', tea.KeyKp8: '8', tea.KeyKp9: '9',
	tea.KeyKpUp: tea.KeyUp, tea.KeyKpDown: tea.KeyDown, tea.KeyKpLeft: tea.KeyLeft,
	tea.KeyKpRight: tea.KeyRight, tea.KeyKpHome: tea.KeyHome, tea.KeyKpEnd: tea.KeyEnd,
	tea.KeyKpPgUp: tea.KeyPgUp, tea.KeyKpPgDown: tea.KeyPgDown,
	tea.KeyKpInsert: tea.KeyInsert, tea.KeyKpDelete: tea.KeyDelete, tea.KeyKpBegin: tea.KeyBegin,
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ctrlByte is the C0 control byte for ctrl+code.
func ctrlByte(code rune) (byte, bool) {
	switch {
	case code >= 'a' && code <= 'z':
		return byte(code-'a') + 1, true
	case code >= 'A' && code <= 'Z':
		return byte(code-'A') + 1, true
	}
	switch code {
	case '@', '2':
		return 0, true
	case '[', '3':
		return 0x1b, true
	case '\\', '4':
		return 0x1c, true
	case ']', '5':
		return 0x1d, true
	case '^', '6':
		return 0x1e, true
	case '_', '7', '/':
		return 0x1f, true
	case '?', '8':
		return 0x7f, true
	}
	return 0, false
}

// modParam is xterm's modifier parameter: 1 + shift + 2*alt + 4*ctrl.
func modParam(m tea.KeyMod) int {
	p := 1
	if m&tea.ModShift != 0 {
		p++
	}
	if m&tea.ModAlt != 0 {
		p += 2
	}
	if m&tea.ModCtrl != 0 {
		p += 4
	}
	return p
}

// encodeSpecial handles cursor, editing and function keys.
func encodeSpecial(code rune, m tea.KeyMod, appCursor bool) string {
	p := modParam(m)
	letter := func(c byte) string {
		if p > 1 {
			return "\x1b[1;" + strconv.Itoa(p) + string(c)
		}
		if appCursor {
			return "\x1bO" + string(c)
		}
		return "\x1b[" + string(c)
	}
	ss3 := func(c byte) string { // F1-F4
		if p > 1 {
			return "\x1b[1;" + strconv.Itoa(p) + string(c)
		}
		return "\x1bO" + string(c)
	}
	tilde := func(n int) string {
		if p > 1 {
			return "\x1b[" + strconv.Itoa(n) + ";" + strconv.Itoa(p) + "~"
		}
		return "\x1b[" + strconv.Itoa(n) + "~"
	}
	switch code {
	case tea.KeyUp:
		return letter('A')
	case tea.KeyDown:
		return letter('B')
	case tea.KeyRight:
		return letter('C')
	case tea.KeyLeft:
		return letter('D')
	case tea.KeyHome:
		return letter('H')
	case tea.KeyEnd:
		return letter('F')
	case tea.KeyBegin:
		return letter('E')
	case tea.KeyInsert:
		return tilde(2)
	case tea.KeyDelete:
		return tilde(3)
	case tea.KeyPgUp:
		return tilde(5)
	case tea.KeyPgDown:
		return tilde(6)
	case tea.KeyF1:
		return ss3('P')
	case tea.KeyF2:
		return ss3('Q')
	case tea.KeyF3:
		return ss3('R')
	case tea.KeyF4:
		return ss3('S')
	}
	fkeys := map[rune]int{tea.KeyF5: 15, tea.KeyF6: 17, tea.KeyF7: 18, tea.KeyF8: 19, tea.KeyF9: 20, tea.KeyF10: 21, tea.KeyF11: 23, tea.KeyF12: 24}
	if n, ok := fkeys[code]; ok {
		return tilde(n)
	}
	return ""
}
