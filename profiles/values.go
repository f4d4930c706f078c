package profiles

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The checks of string settings. An empty value means "not set" and is
// never checked. They follow the rules of the programs that use the values,
// so that a value a connection would refuse (or, worse, pass on to a shell
// or a guest agent that drops it) is refused when it is written, with the
// line of the file that holds it.

// loginName is a POSIX-style login name as the Linux guest agent accepts it
// for metadata SSH keys: letters, digits, ".", "_" and "-", not starting
// with "-".
var loginName = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*$`)

// CheckLoginName checks a login name given as what (a setting such as
// ssh.user, or a flag such as --user) by the rule of ssh.user.
func CheckLoginName(what, v string) error {
	_, err := checkLoginName(what, v)
	return err
}

func checkLoginName(key, v string) (string, error) {
	if len(v) > 32 || !loginName.MatchString(v) || strings.Trim(v, ".") == "" {
		leave := "leave it empty"
		if strings.HasPrefix(key, "-") {
			leave = "omit it"
		}
		return "", fmt.Errorf("%s %q is not a login name: use at most 32 letters, digits, \".\", \"_\" or \"-\" (not first), like alice or deploy_bot; %s to derive it from your email", key, v, leave)
	}
	return v, nil
}

// windowsForbidden are the characters Windows refuses in an account name.
const windowsForbidden = "\"/\\[]:;|=,+*?<>"

func checkWindowsUser(key, v string) (string, error) {
	if n := len([]rune(v)); n > 20 {
		return "", fmt.Errorf("%s %q is %d characters long: a Windows account name has at most 20", key, v, n)
	}
	if r, bad := firstOf(v, windowsForbidden); bad {
		return "", fmt.Errorf("%s %q has %s, which Windows does not allow in an account name (none of %s or control characters)", key, v, describeRune(r), windowsForbidden)
	}
	if strings.Trim(v, ". ") == "" {
		return "", fmt.Errorf("%s %q is only dots and spaces, which Windows does not allow as an account name", key, v)
	}
	return v, nil
}

func checkWindowsDomain(key, v string) (string, error) {
	if r, bad := firstOf(v, windowsForbidden); bad {
		return "", fmt.Errorf("%s %q has %s, which a Windows domain name cannot hold (none of %s, spaces or control characters)", key, v, describeRune(r), windowsForbidden)
	}
	if strings.ContainsRune(v, ' ') {
		return "", fmt.Errorf("%s %q has a space, which a Windows domain name cannot hold: give the NetBIOS name (CORP) or the DNS name (corp.example.com)", key, v)
	}
	return v, nil
}

func checkNoControl(key, v string) (string, error) {
	if strings.ContainsFunc(v, unicode.IsControl) {
		return "", fmt.Errorf("%s %q has a control character", key, v)
	}
	return v, nil
}

// hostName is a DNS name: labels of letters, digits and "-".
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// checkBindAddress accepts the local address tunnels listen on: an IP
// address (IPv6 with or without brackets) or a host name, without a port.
func checkBindAddress(key, v string) (string, error) {
	t := strings.TrimSpace(v)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")); err == nil {
		return a.String(), nil
	}
	if _, err := netip.ParseAddrPort(t); err == nil || (strings.Count(t, ":") == 1 && hostName.MatchString(t[:strings.Index(t, ":")])) {
		return "", fmt.Errorf("%s %q has a port: give the address only (like localhost or 127.0.0.1); local ports are set per tunnel (tunnel.local_ports)", key, v)
	}
	if len(t) > 253 || !hostName.MatchString(t) {
		return "", fmt.Errorf("%s %q is not an address to listen on: give an IP address (127.0.0.1, ::1) or a host name (localhost)", key, v)
	}
	return t, nil
}

// firstOf returns the first rune of s that is in set or a control character.
func firstOf(s, set string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || strings.ContainsRune(set, r) {
			return r, true
		}
	}
	return 0, false
}

func describeRune(r rune) string {
	if unicode.IsControl(r) {
		return "a control character"
	}
	return strconv.QuoteRune(r)
}

// Desktop size modes of rdp.desktop_size.
const (
	DesktopFitWindow = "client" // fit the client's window
	DesktopScreen    = "screen" // the whole local screen
	DesktopFixed     = "fixed"  // WIDTHxHEIGHT
)

// ParseDesktopSize reads an rdp.desktop_size value: "client" (also "auto"
// or empty), "screen", or WIDTHxHEIGHT with each side 200-8192.
func ParseDesktopSize(v string) (mode string, width, height int, err error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "auto", "client", "":
		return DesktopFitWindow, 0, 0, nil
	case "screen":
		return DesktopScreen, 0, 0, nil
	}
	w, h, ok := strings.Cut(v, "x")
	wi, err1 := strconv.Atoi(w)
	hi, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || wi < 200 || hi < 200 || wi > 8192 || hi > 8192 {
		return "", 0, 0, fmt.Errorf("%q is not auto (or client: follow the window), screen or WIDTHxHEIGHT (200-8192 pixels each, e.g. 1920x1080)", v)
	}
	return DesktopFixed, wi, hi, nil
}

func checkDesktopSize(key, v string) (string, error) {
	if _, _, _, err := ParseDesktopSize(v); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}
