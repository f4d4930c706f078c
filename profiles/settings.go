// Package profiles holds iapterm's connection settings and saved profiles:
// one TOML file, layered global > project > zone > instance (by label
// selector, then by name), each layer overriding only what it sets, with
// every effective value explained by the layer it came from.
package profiles

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a setting's value.
type Kind int

const (
	KindString Kind = iota
	KindInt
	KindBool
	KindDuration
	KindEnum
	KindPort      // a port on the VM: 1-65535
	KindLocalPort // a local port: 1-65535, or 0 for any free port
)

// Setting describes one known setting.
type Setting struct {
	Key     string // category.name, e.g. "ssh.user"
	Kind    Kind
	Default string // as the user would write it; "" means unset
	Enum    []string
	Help    string
	// check rejects a string value no connection could use, with a
	// message that says what is allowed; it returns the canonical text.
	check func(key, v string) (string, error)
}

// settings is the registry of every setting, in display order.
var settings = []Setting{
	{Key: "ssh.user", Kind: KindString, check: checkLoginName, Help: "login name; empty derives it from your email as gcloud does, or from OS Login"},
	{Key: "ssh.port", Kind: KindPort, Default: "22", Help: "SSH port on the VM"},
	{Key: "ssh.key_type", Kind: KindEnum, Default: "ed25519", Enum: []string{"ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-3072"}, Help: "type of the key iapterm creates and publishes"},
	{Key: "ssh.key_validity", Kind: KindDuration, Default: "720h", Help: "how long a published key stays valid"},
	{Key: "ssh.publish", Kind: KindEnum, Default: "auto", Enum: []string{"auto", "oslogin", "metadata"}, Help: "how the key reaches the VM; auto follows enable-oslogin"},
	{Key: "ssh.transport", Kind: KindEnum, Default: "iap", Enum: []string{"iap", "direct"}, Help: "iap tunnels through IAP; direct dials the internal IP (VPN or Interconnect)"},
	{Key: "ssh.connect_timeout", Kind: KindDuration, Default: "30s", Help: "time allowed for tunnel and handshake"},
	{Key: "ssh.agent", Kind: KindBool, Default: "false", Help: "use keys from a running ssh-agent"},
	{Key: "rdp.user", Kind: KindString, check: checkWindowsUser, Help: "Windows user name"},
	{Key: "rdp.domain", Kind: KindString, check: checkWindowsDomain, Help: "Windows domain"},
	{Key: "rdp.port", Kind: KindPort, Default: "3389", Help: "RDP port on the VM"},
	{Key: "rdp.desktop_size", Kind: KindString, Default: "client", check: checkDesktopSize, Help: "client (fit the window), screen (full screen) or WIDTHxHEIGHT"},
	{Key: "rdp.color_depth", Kind: KindEnum, Default: "true", Enum: []string{"high", "true", "deep"}, Help: "high 16-bit, true 24-bit, deep 32-bit colour"},
	{Key: "rdp.audio", Kind: KindEnum, Default: "local", Enum: []string{"local", "server", "off"}, Help: "play sound locally, on the server, or not at all"},
	{Key: "rdp.clipboard", Kind: KindBool, Default: "true", Help: "share the clipboard"},
	{Key: "rdp.drives", Kind: KindBool, Default: "false", Help: "redirect local drives"},
	{Key: "rdp.nla", Kind: KindBool, Default: "true", Help: "network level authentication"},
	{Key: "rdp.admin", Kind: KindBool, Default: "false", Help: "connect to the admin (console) session"},
	{Key: "rdp.fullscreen", Kind: KindBool, Default: "false", Help: "start in full screen"},
	{Key: "rdp.client", Kind: KindString, check: checkNoControl, Help: "path of the RDP client to launch; empty finds one"},
	{Key: "tunnel.deterministic_ports", Kind: KindBool, Default: "true", Help: "default local port 10000 + checksum(project, zone, instance, port), as IAP Desktop"},
	{Key: "tunnel.bind", Kind: KindString, Default: "localhost", check: checkBindAddress, Help: "local address tunnels listen on"},
	{Key: "ui.restore_sessions", Kind: KindBool, Default: "false", Help: "reopen the tunnels and sessions that were open at the last quit"},
}

// localPortPrefix introduces per-remote-port local ports:
// tunnel.local_ports.5432 = 15432.
const localPortPrefix = "tunnel.local_ports."

var settingByKey = func() map[string]Setting {
	m := make(map[string]Setting, len(settings))
	for _, s := range settings {
		m[s.Key] = s
	}
	return m
}()

// Settings returns the registry of known settings in display order.
func Settings() []Setting { return append([]Setting(nil), settings...) }

// Lookup returns the description of key, including tunnel.local_ports.N.
func Lookup(key string) (Setting, bool) {
	if s, ok := settingByKey[key]; ok {
		return s, true
	}
	if rest, ok := strings.CutPrefix(key, localPortPrefix); ok {
		if p, err := strconv.Atoi(rest); err == nil && p > 0 && p < 65536 {
			return Setting{Key: key, Kind: KindLocalPort, Help: "fixed local port for remote port " + rest + " (0: any free port)"}, true
		}
	}
	return Setting{}, false
}

// unknownSettingHint says which keys exist near an unknown key: the same
// name in other categories ("user" is ssh.user or rdp.user), else the keys
// of its category, else the categories.
func unknownSettingHint(key string) string {
	if rest, ok := strings.CutPrefix(key, localPortPrefix); ok {
		return fmt.Sprintf("%q is not a remote port: write tunnel.local_ports.REMOTE_PORT with a TCP port 1-65535, like tunnel.local_ports.5432", rest)
	}
	cat, name, hasCat := strings.Cut(key, ".")
	if !hasCat {
		name = key
	}
	var same, inCat []string
	for _, s := range settings {
		c, n, _ := strings.Cut(s.Key, ".")
		if n == name {
			same = append(same, s.Key)
		}
		if hasCat && c == cat {
			inCat = append(inCat, n)
		}
	}
	switch {
	case len(same) > 0:
		return "did you mean " + strings.Join(same, " or ") + "?"
	case len(inCat) > 0:
		if cat == "tunnel" {
			inCat = append(inCat, "local_ports.REMOTE_PORT")
		}
		return cat + " settings are " + strings.Join(inCat, ", ")
	}
	return "settings are CATEGORY.NAME with the categories ssh, rdp, tunnel and ui (iapterm config show lists them)"
}

// Normalize checks v against the setting and returns its canonical text.
func (s Setting) Normalize(v any) (string, error) {
	text := fmt.Sprint(v)
	switch s.Kind {
	case KindString:
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s must be a string, not %v", s.Key, v)
		}
		if s.check != nil && str != "" {
			return s.check(s.Key, str)
		}
		return str, nil
	case KindInt, KindPort, KindLocalPort:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case string:
			p, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return "", fmt.Errorf("%s must be a whole number, not %q", s.Key, x)
			}
			n = p
		default:
			return "", fmt.Errorf("%s must be a whole number, not %v", s.Key, v)
		}
		if s.Kind == KindPort && (n < 1 || n > 65535) {
			return "", fmt.Errorf("%s must be a port between 1 and 65535, not %d", s.Key, n)
		}
		if s.Kind == KindLocalPort && (n < 0 || n > 65535) {
			return "", fmt.Errorf("%s must be a port between 1 and 65535 (or 0 for any free port), not %d", s.Key, n)
		}
		return strconv.FormatInt(n, 10), nil
	case KindBool:
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x), nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return "", fmt.Errorf("%s must be true or false, not %q", s.Key, x)
			}
			return strconv.FormatBool(b), nil
		}
		return "", fmt.Errorf("%s must be true or false, not %v", s.Key, v)
	case KindDuration:
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s must be a duration in quotes like \"30s\" or \"720h\", not %v", s.Key, v)
		}
		d, err := time.ParseDuration(strings.TrimSpace(str))
		if err != nil || d <= 0 {
			return "", fmt.Errorf("%s must be a positive duration like \"30s\" or \"720h\", not %q", s.Key, str)
		}
		return d.String(), nil
	case KindEnum:
		str, ok := v.(string)
		if ok {
			for _, e := range s.Enum {
				if strings.EqualFold(e, strings.TrimSpace(str)) {
					return e, nil
				}
			}
		}
		return "", fmt.Errorf("%s must be one of %s, not %q", s.Key, strings.Join(s.Enum, ", "), text)
	}
	return "", fmt.Errorf("%s: unknown kind", s.Key)
}

// tomlValue converts a canonical text value to the Go value written to TOML.
func (s Setting) tomlValue(text string) any {
	switch s.Kind {
	case KindInt, KindPort, KindLocalPort:
		n, _ := strconv.ParseInt(text, 10, 64)
		return n
	case KindBool:
		b, _ := strconv.ParseBool(text)
		return b
	}
	return text
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
