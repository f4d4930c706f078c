// Package emutest starts the emulator for other packages' tests: a world
// served on loopback until the test ends.
package emutest

import (
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
)

// Start serves the world worldYAML describes with options o until t
// ends, and returns the server and the endpoints a client uses to reach it.
func Start(t testing.TB, worldYAML string, o emulator.Options) (*emulator.Server, endpoint.Endpoints) {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, w, o)
}

// Serve is Start for a world already built, such as world.Demo().
func Serve(t testing.TB, w *world.World, o emulator.Options) (*emulator.Server, endpoint.Endpoints) {
	t.Helper()
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
