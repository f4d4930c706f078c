package endpoint

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, relay, compute, token string
		wantErr                   bool
	}{
		{"", "wss://tunnel.cloudproxy.app/v4/", "https://compute.googleapis.com/compute/v1/", "https://oauth2.googleapis.com/token", false},
		{"http://127.0.0.1:9000", "ws://127.0.0.1:9000/v4/", "http://127.0.0.1:9000/compute/v1/", "http://127.0.0.1:9000/token", false},
		{"http://127.0.0.1:9000/", "ws://127.0.0.1:9000/v4/", "http://127.0.0.1:9000/compute/v1/", "http://127.0.0.1:9000/token", false},
		{"https://localhost:8443", "wss://localhost:8443/v4/", "https://localhost:8443/compute/v1/", "https://localhost:8443/token", false},
		{"ws://127.0.0.1:1/root", "ws://127.0.0.1:1/root/v4/", "http://127.0.0.1:1/root/compute/v1/", "http://127.0.0.1:1/root/token", false},
		{"ftp://x", "", "", "", true},
		{"127.0.0.1:9000", "", "", "", true},
		{"http://h:1/?q=1", "", "", "", true},
		{"http://user:secret@127.0.0.1:9000", "", "", "", true},
	}
	for _, c := range cases {
		e, err := Parse(c.in)
		if (err != nil) != c.wantErr {
			t.Fatalf("Parse(%q) error = %v, want error %v", c.in, err, c.wantErr)
		}
		if err != nil {
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Parse(%q) error repeats the password: %v", c.in, err)
			}
			continue
		}
		if e.Relay != c.relay || e.Compute != c.compute || e.OAuthToken != c.token {
			t.Errorf("Parse(%q) = relay %q compute %q token %q", c.in, e.Relay, e.Compute, e.OAuthToken)
		}
		if e.IsEmulator() != (c.in != "") {
			t.Errorf("Parse(%q).IsEmulator() = %v", c.in, e.IsEmulator())
		}
	}
}
