package rdp

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		check   func(t *testing.T, u *URL)
		wantErr string
	}{
		{in: "iap-rdp:///my-project-123/us-central1-a/my-instance-1", check: func(t *testing.T, u *URL) {
			if u.Project != "my-project-123" || u.Zone != "us-central1-a" || u.Instance != "my-instance-1" || len(u.Params) != 0 {
				t.Errorf("got %+v", u)
			}
			if s := u.Settings(); s != DefaultSettings() {
				t.Errorf("settings %+v, want defaults", s)
			}
		}},
		{in: "iap-rdp:/my-project/us-central1-a/vm-1", check: func(t *testing.T, u *URL) {
			if u.Instance != "vm-1" {
				t.Errorf("single slash: %+v", u)
			}
		}},
		{in: "IAP-RDP:///example.com:my-project/europe-west1-b/123456789", check: func(t *testing.T, u *URL) {
			if u.Project != "example.com:my-project" || u.Instance != "123456789" {
				t.Errorf("domain-scoped project, numeric instance: %+v", u)
			}
		}},
		{in: "iap-rdp:///p-1/us-central1-a/vm?Username=bob&Domain=CORP&RdpPort=3390&DesktopSize=1&ColorDepth=2&AudioMode=2&RedirectClipboard=0&CredentialGenerationBehavior=3",
			check: func(t *testing.T, u *URL) {
				s := u.Settings()
				if s.Username != "bob" || s.Domain != "CORP" || s.Port != 3390 || s.DesktopSize != DesktopScreenSize ||
					s.ColorDepth != DeepColor || s.AudioMode != DoNotPlay || s.RedirectClipboard || s.CredentialGeneration != CredentialsForce {
					t.Errorf("numbers: %+v", s)
				}
			}},
		{in: "iap-rdp:///p-1/us-central1-a/vm?username=bob&desktopsize=ScreenSize&COLORDEPTH=highcolor&AudioMode=PlayOnServer&redirectclipboard=Disabled&credentialgenerationbehavior=Disallow",
			check: func(t *testing.T, u *URL) {
				s := u.Settings()
				if s.Username != "bob" || s.DesktopSize != DesktopScreenSize || s.ColorDepth != HighColor ||
					s.AudioMode != PlayOnServer || s.RedirectClipboard || s.CredentialGeneration != CredentialsDisallow {
					t.Errorf("names in any case: %+v", s)
				}
				if u.Params["DesktopSize"] != "1" {
					t.Errorf("not normalised: %v", u.Params)
				}
			}},
		{in: "iap-rdp:///p/z-1/vm?RdpRedirectDrive=1&RdpRedirectPrinter=Enabled&RdpRedirectSmartCard=1&ConnectionBar=2&RdpHookWindowsKeys=FullScreenOnly",
			check: func(t *testing.T, u *URL) {
				s := u.Settings()
				if !s.RedirectDrives || !s.RedirectPrinters || !s.RedirectSmartCards {
					t.Errorf("redirections: %+v", s)
				}
				if strings.Join(u.Ignored, ",") != "ConnectionBar,RdpHookWindowsKeys" {
					t.Errorf("ignored = %v", u.Ignored)
				}
			}},
		{in: "iap-rdp:///p/z-1/vm?Username=&Domain=&DesktopSize=", check: func(t *testing.T, u *URL) {
			if len(u.Params) != 0 {
				t.Errorf("empty values should be unset: %v", u.Params)
			}
		}},
		{in: "https:///p/z/vm", wantErr: "not an iap-rdp link"},
		{in: "iap-rdp://p/z/vm", wantErr: "host part"},
		{in: "iap-rdp:p/z/vm", wantErr: "no path"},
		{in: "iap-rdp:///p/z", wantErr: "not PROJECT/ZONE/INSTANCE"},
		{in: "iap-rdp:///p/z/vm/extra", wantErr: "not PROJECT/ZONE/INSTANCE"},
		{in: "iap-rdp:///P/z/vm", wantErr: "not a valid project"},
		{in: "iap-rdp:///p/Z1/vm", wantErr: "not a valid zone"},
		{in: "iap-rdp:///p/z/-vm", wantErr: "not a valid instance"},
		{in: "iap-rdp:///p/z/vm#frag", wantErr: "fragment"},
		{in: "iap-rdp:///p/z/vm?Password=x", wantErr: "never carry passwords"},
		{in: "iap-rdp:///p/z/vm?rdppassword=x", wantErr: "never carry passwords"},
		{in: "iap-rdp:///p/z/vm?CredentialCallbackUrl=https://x", wantErr: "does not support"},
		{in: "iap-rdp:///p/z/vm?Colour=1", wantErr: `unknown parameter "Colour": allowed are Username, Domain`},
		{in: "iap-rdp:///p/z/vm?DesktopSize=7", wantErr: "DesktopSize=\"7\" is not allowed: use one of 0 (ClientSize), 1 (ScreenSize), 2 (AutoAdjust)"},
		{in: "iap-rdp:///p/z/vm?ColorDepth=Purple", wantErr: "HighColor"},
		{in: "iap-rdp:///p/z/vm?AudioMode=-1", wantErr: "PlayLocally"},
		{in: "iap-rdp:///p/z/vm?RedirectClipboard=yes", wantErr: "0 (Disabled), 1 (Enabled)"},
		{in: "iap-rdp:///p/z/vm?CredentialGenerationBehavior=4", wantErr: "AllowIfNoCredentialsFound"},
		{in: "iap-rdp:///p/z/vm?RdpPort=0", wantErr: "RdpPort"},
		{in: "iap-rdp:///p/z/vm?RdpPort=http", wantErr: "RdpPort"},
		{in: "iap-rdp:///p/z/vm?Username=a/b", wantErr: "Username"},
		{in: "iap-rdp:///p/z/vm?Username=a&username=b", wantErr: "more than once"},
		{in: "iap-rdp:///p/z/vm?Username=a&Username=b", wantErr: "more than once"},
		{in: "iap-rdp:///p/z/vm?Domain=a%0Ab", wantErr: "control character"},
		{in: "iap-rdp:///p/z/vm?a=1;b=2", wantErr: "malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, u)
			again, err := ParseURL(u.String())
			if err != nil || again.String() != u.String() {
				t.Fatalf("round trip of %q: %v, %v", u.String(), again, err)
			}
		})
	}
}

func TestURLApplyLayersOverSettings(t *testing.T) {
	u, err := ParseURL("iap-rdp:///p/z/vm?ColorDepth=0")
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	s.Username = "saved"
	s.AudioMode = DoNotPlay
	u.Apply(&s)
	if s.Username != "saved" || s.AudioMode != DoNotPlay || s.ColorDepth != HighColor {
		t.Fatalf("Apply changed unset values or missed a set one: %+v", s)
	}
}

func TestURLString(t *testing.T) {
	u, err := ParseURL("iap-rdp:///p/z/vm?colordepth=DeepColor&username=bob")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "iap-rdp:///p/z/vm?Username=bob&ColorDepth=2"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"iap-rdp:///my-project-123/us-central1-a/my-instance-1",
		"iap-rdp:/p/z/vm?Username=bob&DesktopSize=1",
		"iap-rdp:///p/z/vm?ColorDepth=DeepColor&AudioMode=2&RedirectClipboard=Enabled&RdpPort=3390",
		"iap-rdp:///p/z/vm?Password=x",
		"iap-rdp://host/p/z/vm",
		"iap-rdp:///p/z/vm?%zz",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if u != nil {
				t.Fatal("non-nil URL with an error")
			}
			return
		}
		for k := range u.Params {
			if strings.Contains(strings.ToLower(k), "password") {
				t.Fatalf("accepted a password parameter %q", k)
			}
		}
		st := u.Settings()
		if err := st.Validate(); err != nil {
			t.Fatalf("accepted %q giving invalid settings: %v", s, err)
		}
		again, err := ParseURL(u.String())
		if err != nil {
			t.Fatalf("String() %q of accepted %q does not parse: %v", u.String(), s, err)
		}
		if again.String() != u.String() || again.Settings() != st {
			t.Fatalf("round trip of %q changed it: %q", s, again.String())
		}
	})
}
