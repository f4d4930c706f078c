package rdp

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDesktopEntry(t *testing.T) {
	e := DesktopEntry("/usr/local/bin/iapterm")
	for _, w := range []string{"[Desktop Entry]\n", "Exec=/usr/local/bin/iapterm open --pause-on-error %u\n", "MimeType=x-scheme-handler/iap-rdp;\n", "Terminal=true\n"} {
		if !strings.Contains(e, w) {
			t.Errorf("entry lacks %q:\n%s", w, e)
		}
	}
	if got := DesktopEntry("/home/a b/iap$term"); !strings.Contains(got, `Exec="/home/a b/iap\\$term" open --pause-on-error %u`) {
		t.Errorf("quoting: %s", got)
	}
}

func TestRegisterLinux(t *testing.T) {
	dir := t.TempDir()
	var ran [][]string
	run := func(name string, args ...string) error {
		ran = append(ran, append([]string{name}, args...))
		return nil
	}
	path, err := RegisterLinux(dir, "/opt/iapterm", run)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "applications", DesktopFileName) {
		t.Errorf("path %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != DesktopEntry("/opt/iapterm") {
		t.Fatalf("file %q, %v", data, err)
	}
	if len(ran) == 0 || strings.Join(ran[0], " ") != "xdg-mime default iapterm-iap-rdp.desktop x-scheme-handler/iap-rdp" {
		t.Errorf("commands %q", ran)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "applications"))
	if len(entries) != 1 {
		t.Errorf("left temp files: %v", entries)
	}
	_, err = RegisterLinux(dir, "/opt/iapterm", func(string, ...string) error { return errors.New("not found") })
	if err == nil || !strings.Contains(err.Error(), "install xdg-utils") {
		t.Errorf("xdg-mime failure: %v", err)
	}
}

func TestRegisterInstructions(t *testing.T) {
	if s := RegisterInstructions("darwin", "/usr/local/bin/iapterm"); !strings.Contains(s, "CFBundleURLSchemes") || !strings.Contains(s, "/usr/local/bin/iapterm open") {
		t.Errorf("darwin: %s", s)
	}
	if s := RegisterInstructions("windows", `C:\bin\iapterm.exe`); !strings.Contains(s, `HKCU\Software\Classes\iap-rdp\shell\open\command`) || !strings.Contains(s, `C:\bin\iapterm.exe\" open --pause-on-error \"%1\"`) {
		t.Errorf("windows: %s", s)
	}
}
