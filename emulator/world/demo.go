package world

import "iapterm/assets"

// Demo returns a fresh copy of the embedded demo world. The demo file is
// checked by this package's tests, so a failure here is a build defect.
func Demo() *World {
	w, err := Parse(assets.DemoWorld, "demo-world.yaml")
	if err != nil {
		panic("embedded demo world is invalid: " + err.Error())
	}
	return w
}

// DefaultUser is the first user: the one `iapterm emulator` prints a token
// for.
func (w *World) DefaultUser() User {
	if len(w.Users) == 0 {
		return User{}
	}
	return w.Users[0]
}
