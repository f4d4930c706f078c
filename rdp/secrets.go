package rdp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/zalando/go-keyring"
)

// KeyringService is the OS keyring service under which passwords are saved.
const KeyringService = "iapterm-rdp"

// keyringKey names one saved password: project/zone/instance/user.
func keyringKey(project, zone, instance, user string) string {
	return project + "/" + zone + "/" + instance + "/" + user
}

// SavePassword stores a Windows password in the OS keyring (Secret
// Service, macOS Keychain, Windows Credential Manager). Call it only when
// the user agreed.
func SavePassword(project, zone, instance, user, password string) error {
	if err := keyring.Set(KeyringService, keyringKey(project, zone, instance, user), password); err != nil {
		return keyringError("saving the password in", err)
	}
	return nil
}

// keyringError says what failed; on Linux and other Unix systems it also
// says what the keyring is, since the bare D-Bus error ("dbus-launch" not
// found, org.freedesktop.secrets not provided) does not.
func keyringError(action string, err error) error {
	switch runtime.GOOS {
	case "windows", "darwin":
		return fmt.Errorf("%s the OS keyring: %w", action, err)
	}
	return fmt.Errorf("%s the OS keyring (a Secret Service such as GNOME Keyring or KWallet on the session D-Bus; is one running in this desktop session?): %w", action, err)
}

// LoadPassword returns a saved password; found is false when none is saved.
func LoadPassword(project, zone, instance, user string) (password string, found bool, err error) {
	pw, err := keyring.Get(KeyringService, keyringKey(project, zone, instance, user))
	if errors.Is(err, keyring.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, keyringError("reading", err)
	}
	return pw, true, nil
}

// DeletePassword forgets a saved password; a missing one is not an error.
func DeletePassword(project, zone, instance, user string) error {
	err := keyring.Delete(KeyringService, keyringKey(project, zone, instance, user))
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return keyringError("deleting the password from", err)
	}
	return nil
}

// OSC52 returns the escape sequence that asks the terminal to put text on
// the system clipboard. Inside tmux (tmux true) it is wrapped in tmux's
// passthrough, which needs `set -g allow-passthrough on` or tmux's own
// set-clipboard.
func OSC52(text string, tmux bool) string {
	seq := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\x07"
	if tmux {
		return "\x1bPtmux;\x1b" + seq + "\x1b\\"
	}
	return seq
}

// CopyToClipboard writes the OSC 52 sequence for text to w (the
// terminal), wrapping it for tmux when $TMUX is set. Terminals that do not
// support OSC 52 ignore it.
func CopyToClipboard(w io.Writer, text string) error {
	_, err := io.WriteString(w, OSC52(text, os.Getenv("TMUX") != ""))
	return err
}
