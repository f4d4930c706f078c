package rdp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DesktopFileName is the name of the Linux desktop entry that makes
// iapterm the handler of iap-rdp links.
const DesktopFileName = "iapterm-iap-rdp.desktop"

// URLMimeType is the scheme handler type of iap-rdp links on Linux.
const URLMimeType = "x-scheme-handler/iap-rdp"

// DesktopEntry returns a freedesktop.org desktop entry that opens iap-rdp
// links with `exe open --pause-on-error URL` in a terminal (so progress,
// prompts and errors are visible: the window stays open after an error).
func DesktopEntry(exe string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=iapterm (iap-rdp links)\n" +
		"Comment=Connect to Google Cloud VMs from iap-rdp:/// links through IAP\n" +
		"Exec=" + desktopQuote(exe) + " open --pause-on-error %u\n" +
		"Terminal=true\n" +
		"NoDisplay=true\n" +
		"MimeType=" + URLMimeType + ";\n"
}

// desktopQuote quotes an Exec argument as the desktop entry spec wants.
func desktopQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`=%") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", `$`, `\\$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

// RegisterLinux writes the desktop entry into dataHome/applications
// (dataHome is $XDG_DATA_HOME, default ~/.local/share) and makes it the
// default handler with `xdg-mime default`. run executes a command; its
// failure is reported with what to run by hand.
func RegisterLinux(dataHome, exe string, run func(name string, args ...string) error) (string, error) {
	if dataHome == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the home directory: %w", err)
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	dir := filepath.Join(dataHome, "applications")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("making %s: %w", dir, err)
	}
	path := filepath.Join(dir, DesktopFileName)
	tmp, err := os.CreateTemp(dir, ".iapterm-*.desktop")
	if err != nil {
		return "", err
	}
	if _, err := tmp.WriteString(DesktopEntry(exe)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	tmp.Chmod(0o644)
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := run("xdg-mime", "default", DesktopFileName, URLMimeType); err != nil {
		return path, fmt.Errorf("wrote %s, but `xdg-mime default %s %s` failed (install xdg-utils and run it): %w", path, DesktopFileName, URLMimeType, err)
	}
	// Optional: refreshes the MIME cache some desktops read.
	_ = run("update-desktop-database", dir)
	return path, nil
}

// RegisterInstructions explains how to make iapterm the handler of
// iap-rdp links on macOS and Windows, where it takes steps iapterm does
// not perform itself.
func RegisterInstructions(goos, exe string) string {
	switch goos {
	case "darwin":
		return `macOS sends links only to application bundles. To open iap-rdp links with iapterm:
1. In Script Editor, create a new script with:

     on open location theURL
         tell application "Terminal" to do script "` + exe + ` open " & quoted form of theURL
     end open location

2. Save it as an Application, e.g. ~/Applications/iapterm-links.app.
3. Add to its Contents/Info.plist:

     <key>CFBundleURLTypes</key>
     <array><dict>
       <key>CFBundleURLName</key><string>iap-rdp</string>
       <key>CFBundleURLSchemes</key><array><string>iap-rdp</string></array>
     </dict></array>

4. Open the application once so Launch Services registers it.
`
	case "windows":
		q := strings.ReplaceAll(exe, `"`, ``)
		return `Register iap-rdp links for the current user (cmd.exe):

  reg add HKCU\Software\Classes\iap-rdp /ve /d "URL:iap-rdp" /f
  reg add HKCU\Software\Classes\iap-rdp /v "URL Protocol" /d "" /f
  reg add HKCU\Software\Classes\iap-rdp\shell\open\command /ve /d "\"` + q + `\" open --pause-on-error \"%1\"" /f

Remove them with: reg delete HKCU\Software\Classes\iap-rdp /f
`
	}
	return ""
}
