// Package emutest starts the emulator for other packages' tests: the world
// of a YAML text served on loopback until the test ends.
package emutest

import (
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
)

// Start serves worldYAML with options o until t ends, and returns the
// server and the endpoints a client uses to reach it.
func Start(t testing.TB, worldYAML string, o emulator.Options) (*emulator.Server, endpoint.Endpoints) {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emulator.Start(w, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	eps, err := endpoint.Parse(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return srv, eps
}
