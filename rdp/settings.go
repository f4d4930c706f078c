// Package rdp launches the user's own RDP client (FreeRDP, Remmina, mstsc,
// Microsoft's Windows App) against a local IAP tunnel, writes the `.rdp`
// and `.remmina` files those clients read, generates Windows credentials
// through the guest agent (instance metadata `windows-keys` and serial port
// 4), and parses IAP Desktop's `iap-rdp:///` links. It embeds no RDP client.
//
// The API the CLI and the TUI use:
//
//	client, err := rdp.FindClient(ctx, rdp.FindOptions{})  // which program, which version
//	creds, err := rdp.GenerateCredentials(ctx, api, req)   // optional: a fresh Windows password
//	sess, err := rdp.Launch(ctx, rdp.LaunchOptions{
//		Client: client, Settings: s, Password: creds.Password,
//		Forward: rdp.PoolForwarder(pool, tunnel.Target{Project: p, Zone: z, Instance: name}, 0),
//	})
//	<-sess.Done() // the client exited and the tunnel was released
//
// api is a MetadataAPI; *projects.Client needs a two-method adapter because
// its update callback has the named type projects.MutateFunc (see
// cmd/iapterm/rdp.go). Cancelling Launch's ctx stops the client, so the TUI
// should pass a context that lives as long as the session may.
package rdp

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultPort is the RDP port a Windows VM listens on unless reconfigured.
const DefaultPort = 3389

// DesktopSize says how large the remote desktop is. The numeric values are
// IAP Desktop's, so URLs written for it keep their meaning.
type DesktopSize int

const (
	// DesktopClientSize is a fixed size: Settings.Width x Settings.Height,
	// or the client's default when those are zero.
	DesktopClientSize DesktopSize = 0
	// DesktopScreenSize is the size of the local screen (work area).
	DesktopScreenSize DesktopSize = 1
	// DesktopAutoAdjust follows the client window as it is resized.
	DesktopAutoAdjust DesktopSize = 2
)

// ColorDepth is the session colour depth (IAP Desktop values).
type ColorDepth int

const (
	HighColor ColorDepth = 0 // 16 bits per pixel
	TrueColor ColorDepth = 1 // 24 bits per pixel
	DeepColor ColorDepth = 2 // 32 bits per pixel
)

// Bits returns the bits per pixel the clients are given.
func (c ColorDepth) Bits() int {
	switch c {
	case HighColor:
		return 16
	case DeepColor:
		return 32
	default:
		return 24
	}
}

// AudioMode says where remote audio plays (IAP Desktop values, which are
// also the values of FreeRDP's /audio-mode and the .rdp key audiomode).
type AudioMode int

const (
	PlayLocally  AudioMode = 0
	PlayOnServer AudioMode = 1
	DoNotPlay    AudioMode = 2
)

// NLA is whether Network Level Authentication (CredSSP) may be used.
type NLA int

const (
	NLAEnabled  NLA = 0 // negotiate, NLA allowed (the default)
	NLADisabled NLA = 1 // never use NLA
)

// CredentialGeneration says whether the user is offered to generate new
// Windows credentials when connecting (IAP Desktop values).
type CredentialGeneration int

const (
	CredentialsAllow                  CredentialGeneration = 0
	CredentialsAllowIfNoneFound       CredentialGeneration = 1
	CredentialsDisallow               CredentialGeneration = 2
	CredentialsForce                  CredentialGeneration = 3
	defaultCredentialGenerationOption                      = CredentialsAllowIfNoneFound
)

// Settings are the connection settings of one RDP session. Start from
// DefaultSettings; the zero value is not the default.
type Settings struct {
	Username string
	Domain   string
	// Port is the VM's RDP port (the remote end of the tunnel).
	Port        int
	DesktopSize DesktopSize
	// Width and Height are used with DesktopClientSize; zero means the
	// client's own default.
	Width, Height int
	FullScreen    bool
	ColorDepth    ColorDepth
	AudioMode     AudioMode
	// Redirections of local resources into the session.
	RedirectClipboard  bool
	RedirectDrives     bool // the user's home directory (FreeRDP +home-drive, .rdp drivestoredirect:s:*)
	RedirectPrinters   bool
	RedirectSmartCards bool
	NLA                NLA
	// AdminSession asks for the console/admin session (/admin).
	AdminSession bool
	// IgnoreCertificate skips the server certificate check. Through a
	// tunnel the client connects to 127.0.0.1, which never matches the
	// VM's self-signed certificate, so this is on by default; the tunnel
	// itself is authenticated and encrypted by IAP.
	IgnoreCertificate    bool
	CredentialGeneration CredentialGeneration
	// Title is the client window title (FreeRDP only).
	Title string
}

// DefaultSettings are the settings of a new connection: IAP Desktop's
// defaults (auto-adjusting size, true colour, audio played locally,
// clipboard shared, NLA allowed) plus certificate ignore for the loopback
// tunnel.
func DefaultSettings() Settings {
	return Settings{
		Port:                 DefaultPort,
		DesktopSize:          DesktopAutoAdjust,
		ColorDepth:           TrueColor,
		AudioMode:            PlayLocally,
		RedirectClipboard:    true,
		NLA:                  NLAEnabled,
		IgnoreCertificate:    true,
		CredentialGeneration: defaultCredentialGenerationOption,
	}
}

// Validate checks the settings a client would otherwise reject obscurely.
func (s Settings) Validate() error {
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("RDP port %d is out of range: use 1-65535 (Windows listens on %d unless reconfigured)", s.Port, DefaultPort)
	}
	if s.Username != "" {
		if err := validateLogonName(s.Username); err != nil {
			return err
		}
	}
	if strings.ContainsAny(s.Domain, "\x00\r\n\"/\\[]:;|=,+*?<>") || strings.ContainsFunc(s.Domain, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
	}) {
		return fmt.Errorf("domain %q has a character Windows does not allow in a NetBIOS domain name", s.Domain)
	}
	if s.DesktopSize == DesktopClientSize && (s.Width < 0 || s.Height < 0 || s.Width > 8192 || s.Height > 8192) {
		return fmt.Errorf("desktop size %dx%d is out of range: use 200-8192 pixels per side", s.Width, s.Height)
	}
	if strings.ContainsAny(s.Title, "\x00\r\n") {
		return fmt.Errorf("window title has a control character")
	}
	return nil
}

// windowsUsernameForbidden are the characters Windows refuses in a user
// name (SAM account name).
const windowsUsernameForbidden = "\"/\\[]:;|=,+*?<>"

// ValidateUsername checks a Windows local account name: 1 to 20
// characters, none of "/\[]:;|=,+*?<> or control characters, and not
// only dots and spaces.
func ValidateUsername(name string) error {
	if name == "" {
		return fmt.Errorf("the Windows username is empty: give one with --user")
	}
	if n := len([]rune(name)); n > 20 {
		return fmt.Errorf("the Windows username %q is %d characters long: Windows allows at most 20", name, n)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("the Windows username %q has a control character", name)
		}
		if unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			// Bidirectional overrides and invisible characters would make
			// the name shown in prompts differ from the account used.
			return fmt.Errorf("the Windows username %q has an invisible or text-direction character (%U)", name, r)
		}
		if strings.ContainsRune(windowsUsernameForbidden, r) {
			return fmt.Errorf("the Windows username %q has %q, which Windows does not allow (none of %s)", name, r, windowsUsernameForbidden)
		}
	}
	if strings.Trim(name, ". ") == "" {
		return fmt.Errorf("the Windows username %q is only dots and spaces", name)
	}
	return nil
}

// validateLogonName checks the name a client logs on with: a local or
// domain account name (ValidateUsername), or a domain user's principal
// name user@domain, which is not bound by the 20-character limit of
// account names.
func validateLogonName(name string) error {
	user, domain, upn := strings.Cut(name, "@")
	if !upn {
		return ValidateUsername(name)
	}
	if user == "" || domain == "" || strings.Contains(domain, "@") || len(name) > 256 {
		return fmt.Errorf("the Windows username %q is not an account name or user@domain", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return fmt.Errorf("the Windows username %q has a control, invisible or text-direction character (%U)", name, r)
		}
		if strings.ContainsRune(windowsUsernameForbidden, r) {
			return fmt.Errorf("the Windows username %q has %q, which Windows does not allow (none of %s)", name, r, windowsUsernameForbidden)
		}
	}
	return nil
}

// SuggestUsername derives a Windows username from an email address: the
// part before @, with characters Windows refuses removed, cut to 20
// characters. It returns "" when nothing usable is left.
func SuggestUsername(email string) string {
	local, _, _ := strings.Cut(email, "@")
	var b strings.Builder
	for _, r := range local {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError || r == ' ' || strings.ContainsRune(windowsUsernameForbidden, r) {
			continue
		}
		b.WriteRune(r)
	}
	s := []rune(b.String())
	if len(s) > 20 {
		s = s[:20]
	}
	out := strings.Trim(string(s), ".")
	if ValidateUsername(out) != nil {
		return ""
	}
	return out
}
