//go:build !unix

package agent

import "os"

// exitSignal reports no signal where processes do not die of signals.
func exitSignal(error) (string, bool) { return "", false }

// signalByName supports only KILL where other signals cannot be sent.
func signalByName(name string) (os.Signal, bool) {
	if name == "KILL" {
		return os.Kill, true
	}
	return nil, false
}
