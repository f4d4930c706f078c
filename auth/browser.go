package auth

import (
	"fmt"
	"os/exec"
	"runtime"
)

func isWindows() bool { return runtime.GOOS == "windows" }

// browserCommand is the command that opens url in the user's browser.
func browserCommand(goos, url string) (string, []string) {
	switch goos {
	case "darwin":
		return "open", []string{url}
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		return "xdg-open", []string{url}
	}
}

// OpenBrowser opens url in the default browser without waiting for it.
func OpenBrowser(url string) error {
	name, args := browserCommand(runtime.GOOS, url)
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("opening a browser with %s: %w", name, err)
	}
	go cmd.Wait() // reap it
	return nil
}
