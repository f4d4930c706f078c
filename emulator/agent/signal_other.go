//go:build !unix

package agent

// exitSignal reports no signal where processes do not die of signals.
func exitSignal(error) (string, bool) { return "", false }
