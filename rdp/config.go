package rdp

import (
	"fmt"
	"strings"

	"iapterm/profiles"
)

// SetDesktopSize sets the desktop size from "auto" (or "client", follow
// the window), "screen" (full screen) or WIDTHxHEIGHT.
func (s *Settings) SetDesktopSize(v string) error {
	mode, w, h, err := profiles.ParseDesktopSize(v)
	if err != nil {
		return err
	}
	switch mode {
	case profiles.DesktopFitWindow:
		s.DesktopSize = DesktopAutoAdjust
	case profiles.DesktopScreen:
		s.DesktopSize = DesktopScreenSize
	default:
		s.DesktopSize, s.Width, s.Height = DesktopClientSize, w, h
	}
	return nil
}

// SetAudio sets where sound plays: "local", "server" (or "remote"), or "off".
func (s *Settings) SetAudio(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "local":
		s.AudioMode = PlayLocally
	case "remote", "server":
		s.AudioMode = PlayOnServer
	case "off", "none":
		s.AudioMode = DoNotPlay
	default:
		return fmt.Errorf("%q is not local, server or off", v)
	}
	return nil
}

// ApplyConfig sets the rdp.* values of the settings file (its global,
// project, zone and instance layers, already resolved in eff) on s.
func (s *Settings) ApplyConfig(eff profiles.Effective) error {
	if v := eff.String("rdp.user"); v != "" {
		s.Username = v
	}
	if v := eff.String("rdp.domain"); v != "" {
		s.Domain = v
	}
	if n := eff.Int("rdp.port"); n != 0 {
		s.Port = n
	}
	if err := s.SetDesktopSize(eff.String("rdp.desktop_size")); err != nil {
		return fmt.Errorf("setting rdp.desktop_size: %w; fix it with `iapterm config set rdp.desktop_size VALUE`", err)
	}
	switch eff.String("rdp.color_depth") {
	case "high":
		s.ColorDepth = HighColor
	case "deep":
		s.ColorDepth = DeepColor
	case "true":
		s.ColorDepth = TrueColor
	}
	if v := eff.String("rdp.audio"); v != "" {
		if err := s.SetAudio(v); err != nil {
			return fmt.Errorf("setting rdp.audio: %w", err)
		}
	}
	s.RedirectClipboard = eff.Bool("rdp.clipboard")
	s.RedirectDrives = eff.Bool("rdp.drives")
	s.NLA = NLAEnabled
	if !eff.Bool("rdp.nla") {
		s.NLA = NLADisabled
	}
	s.AdminSession = eff.Bool("rdp.admin")
	s.FullScreen = eff.Bool("rdp.fullscreen")
	return nil
}
