package termpane

import (
	"testing"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// decodeKey is the key press the UI receives when the host terminal sends
// in: the same decoder Bubble Tea uses.
func decodeKey(t *testing.T, in string) tea.KeyPressMsg {
	t.Helper()
	var d uv.EventDecoder
	n, ev := d.Decode([]byte(in))
	k, ok := ev.(uv.KeyPressEvent)
	if !ok || n != len(in) {
		t.Fatalf("%q decodes to %T (%d bytes), not one key press", in, ev, n)
	}
	return tea.KeyPressMsg(k)
}

// Bubble Tea always asks the host terminal for the kitty keyboard
// protocol's disambiguation, under which the keypad and alt+shift+key
// arrive as CSI u; the remote must get what xterm sends for them.
func TestEncodeKittyAndKeypadKeys(t *testing.T) {
	tests := []struct {
		name, in string
		app      bool
		want     string
	}{
		{"keypad enter (kitty)", "\x1b[57414u", false, "\r"},
		{"keypad enter (application keypad)", "\x1bOM", false, "\r"},
		{"keypad equal", "\x1bOX", false, "="},
		{"keypad 7 (kitty)", "\x1b[57406u", false, "7"},
		{"keypad up (kitty, numlock off)", "\x1b[57419u", false, "\x1b[A"},
		{"keypad up in application cursor mode", "\x1b[57419u", true, "\x1bOA"},
		{"keypad home", "\x1b[57423u", false, "\x1b[H"},
		{"keypad end", "\x1b[57424u", false, "\x1b[F"},
		{"keypad pgup", "\x1b[57421u", false, "\x1b[5~"},
		{"keypad pgdown", "\x1b[57422u", false, "\x1b[6~"},
		{"keypad insert", "\x1b[57425u", false, "\x1b[2~"},
		{"keypad delete", "\x1b[57426u", false, "\x1b[3~"},
		{"keypad 5 without numlock", "\x1b[57427u", false, "\x1b[E"},
		{"shift+keypad up", "\x1b[57419;2u", false, "\x1b[1;2A"},
		{"ctrl+keypad enter", "\x1b[57414;5u", false, "\r"},
		{"alt+shift+a (kitty)", "\x1b[97;4u", false, "\x1bA"},
		{"ctrl+1 (kitty)", "\x1b[49;5u", false, "1"},
		{"ctrl+period (kitty)", "\x1b[46;5u", false, "."},
		{"ctrl+alt+1 (kitty)", "\x1b[49;7u", false, "\x1b1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := decodeKey(t, tt.in)
			if got := Encode(k, tt.app); got != tt.want {
				t.Errorf("%q arrives as %v (%+v); sent %q, want %q", tt.in, k, k, got, tt.want)
			}
		})
	}
}

// On Windows the console reports AltGr as left ctrl + right alt with the
// character it types (win32-input-mode, as Windows Terminal sends it):
// the character must reach the VM, not ctrl+alt of the key.
func TestEncodeAltGrCharacters(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"altgr+q on a German layout", "\x1b[81;16;64;1;9;1_", "@"},
		{"altgr+8 on a German layout", "\x1b[56;9;91;1;9;1_", "["},
		{"altgr+e on a German layout", "\x1b[69;18;8364;1;9;1_", "€"},
		{"left ctrl+left alt+a", "\x1b[65;30;1;1;10;1_", "\x1b\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := decodeKey(t, tt.in)
			if got := Encode(k, false); got != tt.want {
				t.Errorf("%q arrives as %v (%+v); sent %q, want %q", tt.in, k, k, got, tt.want)
			}
		})
	}
}
