package rdp

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FreeRDPArgs returns the arguments for FreeRDP major version 2 or 3 to
// connect to addr (the local tunnel, "127.0.0.1:PORT"). When
// passwordOnStdin is true the client is told to read the password from
// stdin (/from-stdin:force), so it never appears on the command line.
func FreeRDPArgs(major int, addr string, s Settings, passwordOnStdin bool) []string {
	args := []string{"/v:" + addr}
	if s.Username != "" {
		args = append(args, "/u:"+s.Username)
	}
	if s.Domain != "" {
		args = append(args, "/d:"+s.Domain)
	}
	if passwordOnStdin {
		// force: read before connecting rather than when the server asks.
		args = append(args, "/from-stdin:force")
	}
	if s.IgnoreCertificate {
		if major >= 3 {
			args = append(args, "/cert:ignore")
		} else {
			args = append(args, "/cert-ignore")
		}
	}
	switch s.DesktopSize {
	case DesktopAutoAdjust:
		args = append(args, "/dynamic-resolution")
	case DesktopScreenSize:
		if !s.FullScreen {
			args = append(args, "/workarea")
		}
	case DesktopClientSize:
		if s.Width > 0 && s.Height > 0 {
			args = append(args, fmt.Sprintf("/size:%dx%d", s.Width, s.Height))
		}
	}
	if s.FullScreen {
		args = append(args, "/f")
	}
	args = append(args, "/bpp:"+strconv.Itoa(s.ColorDepth.Bits()))
	args = append(args, "/audio-mode:"+strconv.Itoa(int(s.AudioMode)))
	if s.AudioMode == PlayLocally {
		args = append(args, "/sound")
	}
	if s.RedirectClipboard {
		args = append(args, "+clipboard")
	} else {
		args = append(args, "-clipboard")
	}
	if s.RedirectDrives {
		args = append(args, "+home-drive")
	}
	if s.RedirectPrinters {
		args = append(args, "/printer")
	}
	if s.RedirectSmartCards {
		args = append(args, "/smartcard")
	}
	if s.NLA == NLADisabled {
		// FreeRDP 3 only keeps -sec-nla in builds with deprecated options.
		if major >= 3 {
			args = append(args, "/sec:nla:off")
		} else {
			args = append(args, "-sec-nla")
		}
	}
	if s.AdminSession {
		args = append(args, "/admin")
	}
	if s.Title != "" {
		// /t: in both versions (FreeRDP 3 also knows it as /title:).
		args = append(args, "/t:"+s.Title)
	}
	return args
}

// RDPFile returns the contents of a .rdp file for mstsc and Microsoft's
// Windows App connecting to addr. It never holds a password: neither
// program reads a plain one from a file.
func RDPFile(addr string, s Settings) []byte {
	var b strings.Builder
	line := func(k, typ, v string) { b.WriteString(k + ":" + typ + ":" + v + "\r\n") }
	i := func(k string, v int) { line(k, "i", strconv.Itoa(v)) }
	flag := func(k string, v bool) {
		if v {
			i(k, 1)
		} else {
			i(k, 0)
		}
	}
	line("full address", "s", addr)
	if s.Username != "" {
		line("username", "s", s.Username)
	}
	if s.Domain != "" {
		line("domain", "s", s.Domain)
	}
	if s.FullScreen {
		i("screen mode id", 2)
	} else {
		i("screen mode id", 1)
	}
	switch s.DesktopSize {
	case DesktopAutoAdjust:
		i("dynamic resolution", 1)
	case DesktopClientSize:
		i("dynamic resolution", 0)
		if s.Width > 0 && s.Height > 0 {
			i("desktopwidth", s.Width)
			i("desktopheight", s.Height)
		}
	case DesktopScreenSize:
		i("dynamic resolution", 0)
	}
	i("smart sizing", 0)
	i("session bpp", s.ColorDepth.Bits())
	i("audiomode", int(s.AudioMode))
	flag("redirectclipboard", s.RedirectClipboard)
	flag("redirectprinters", s.RedirectPrinters)
	flag("redirectsmartcards", s.RedirectSmartCards)
	if s.RedirectDrives {
		line("drivestoredirect", "s", "*")
	} else {
		line("drivestoredirect", "s", "")
	}
	flag("enablecredsspsupport", s.NLA == NLAEnabled)
	flag("administrative session", s.AdminSession)
	if s.IgnoreCertificate {
		// 0: connect without warning when the server cannot be
		// authenticated, which is always so for 127.0.0.1.
		i("authentication level", 0)
	} else {
		i("authentication level", 2)
	}
	i("prompt for credentials", 0)
	i("negotiate security layer", 1)
	return []byte(b.String())
}

// RemminaFile returns a .remmina profile connecting to addr. Remmina
// stores passwords encrypted with its own secret, so none is written: it
// asks the user.
func RemminaFile(addr string, s Settings) []byte {
	var b strings.Builder
	kv := func(k, v string) { b.WriteString(k + "=" + v + "\n") }
	b.WriteString("[remmina]\n")
	name := s.Title
	if name == "" {
		name = addr
	}
	kv("name", oneLine(name))
	kv("protocol", "RDP")
	kv("server", addr)
	kv("username", s.Username)
	kv("domain", s.Domain)
	kv("colordepth", strconv.Itoa(s.ColorDepth.Bits()))
	switch s.DesktopSize {
	case DesktopAutoAdjust:
		kv("resolution_mode", "2") // initial window size
		kv("scale", "2")           // dynamic resolution
	case DesktopScreenSize:
		kv("resolution_mode", "1") // client (screen) resolution
	case DesktopClientSize:
		if s.Width > 0 && s.Height > 0 {
			kv("resolution_mode", "0")
			kv("resolution_width", strconv.Itoa(s.Width))
			kv("resolution_height", strconv.Itoa(s.Height))
		} else {
			kv("resolution_mode", "2")
		}
	}
	if s.FullScreen {
		kv("viewmode", "4") // viewport full screen
	} else {
		kv("viewmode", "1") // scrolled window
	}
	switch s.AudioMode {
	case PlayLocally:
		kv("sound", "local")
	case PlayOnServer:
		kv("sound", "remote")
	default:
		kv("sound", "off")
	}
	kv("disableclipboard", boolDigit(!s.RedirectClipboard))
	if s.RedirectDrives {
		// Remmina shares only an absolute path: "~" is not expanded and
		// would share nothing.
		if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
			kv("sharefolder", keyFileEscape(home))
		}
	}
	kv("shareprinter", boolDigit(s.RedirectPrinters))
	kv("sharesmartcard", boolDigit(s.RedirectSmartCards))
	if s.NLA == NLADisabled {
		kv("security", "tls")
	} else {
		kv("security", "")
	}
	kv("console", boolDigit(s.AdminSession))
	kv("cert_ignore", boolDigit(s.IgnoreCertificate))
	return []byte(b.String())
}

func boolDigit(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// keyFileEscape escapes a value for a GLib key file (what Remmina reads),
// where a backslash starts an escape and line breaks end the value.
func keyFileEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", "\x00", "").Replace(s)
}

// LoopbackAddr formats a local tunnel port as the address clients get.
func LoopbackAddr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
