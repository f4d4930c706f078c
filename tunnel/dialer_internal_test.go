package tunnel

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"iapterm/endpoint"
)

func TestGcloudBackoff(t *testing.T) {
	for n := 1; n <= 60; n++ {
		base := 1500 * time.Millisecond
		for i := 1; i < n; i++ {
			base = base * 11 / 10
		}
		for range 20 {
			d := gcloudBackoff(n)
			if d > 20*time.Second || d < min(base, 20*time.Second) || d >= base+time.Second {
				t.Fatalf("backoff(%d) = %v, base %v", n, d, base)
			}
		}
	}
}

func TestRelayURLs(t *testing.T) {
	eps, err := endpoint.Parse("http://127.0.0.1:9000/root")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dialer{Endpoints: eps}
	tg := Target{Project: "p 1", Zone: "z", Instance: "i", Interface: "nic1", Port: 3389}
	if got, want := d.connectURL(tg), "ws://127.0.0.1:9000/root/v4/connect?project=p+1&port=3389&newWebsocket=True&zone=z&instance=i&interface=nic1"; got != want {
		t.Errorf("connect URL\n got %s\nwant %s", got, want)
	}
	if got, want := d.reconnectURL(tg, "a/b+c=", 3029), "ws://127.0.0.1:9000/root/v4/reconnect?sid=a%2Fb%2Bc%3D&ack=3029&newWebsocket=True&zone=z"; got != want {
		t.Errorf("reconnect URL\n got %s\nwant %s", got, want)
	}
	if got := (&Dialer{}).connectURL(tg); got[:36] != "wss://tunnel.cloudproxy.app/v4/conne" {
		t.Errorf("default relay URL %s", got)
	}
	cert := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	if got := (&Dialer{GetClientCertificate: cert}).connectURL(tg); !strings.HasPrefix(got, "wss://mtls.tunnel.cloudproxy.app/v4/connect?") {
		t.Errorf("relay URL with a client certificate %s, want the mTLS host", got)
	}
	if got := (&Dialer{Endpoints: eps, GetClientCertificate: cert}).reconnectURL(tg, "s", 1); !strings.HasPrefix(got, "ws://127.0.0.1:9000/root/v4/reconnect?") {
		t.Errorf("an emulator endpoint with a client certificate gave %s, want the emulator itself", got)
	}
}
