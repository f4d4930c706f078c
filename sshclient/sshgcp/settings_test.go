package sshgcp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/tunnel"
)

// values is a settings source with profiles.Effective's conversions.
type values map[string]string

func (v values) String(k string) string { return v[k] }
func (v values) Int(k string) int       { n, _ := strconv.Atoi(v[k]); return n }
func (v values) Bool(k string) bool     { return v[k] == "true" }
func (v values) Duration(k string) time.Duration {
	d, _ := time.ParseDuration(v[k])
	return d
}

func TestReadSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      values
		want    Settings
		wantErr string
	}{
		{name: "defaults", in: values{},
			want: Settings{Port: 22, KeyType: sshclient.KeyEd25519, Publish: "auto", Transport: TransportIAP}},
		{name: "everything", in: values{"ssh.user": "ops", "ssh.port": "2222", "ssh.key_type": "ecdsa-p256", "ssh.key_validity": "1h",
			"ssh.publish": "metadata", "ssh.agent": "true", "ssh.connect_timeout": "5s", "ssh.transport": "direct"},
			want: Settings{User: "ops", Port: 2222, KeyType: sshclient.KeyECDSAP256, Validity: time.Hour, Publish: "metadata",
				Agent: true, ConnectTimeout: 5 * time.Second, Transport: TransportDirect}},
		{name: "rsa spelling", in: values{"ssh.key_type": "rsa"},
			want: Settings{Port: 22, KeyType: sshclient.KeyRSA3072, Publish: "auto", Transport: TransportIAP}},
		{name: "bad key type", in: values{"ssh.key_type": "dsa"}, wantErr: "ssh.key_type"},
		{name: "bad port", in: values{"ssh.port": "70000"}, wantErr: "not a TCP port"},
		{name: "bad publish", in: values{"ssh.publish": "carrier-pigeon"}, wantErr: "publish mode"},
		{name: "bad transport", in: values{"ssh.transport": "vpn"}, wantErr: "ssh.transport"},
		{name: "negative validity", in: values{"ssh.key_validity": "-1h"}, wantErr: "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSettings(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSettingsTarget(t *testing.T) {
	s, err := ReadSettings(values{"ssh.port": "2022"})
	if err != nil {
		t.Fatal(err)
	}
	tg := s.Target(&projects.Instance{Project: "p", Zone: "z", Name: "n", ID: "7", InternalIP: "10.0.0.5"})
	if tg.SSHPort() != 2022 || tg.InternalIP != "10.0.0.5" || tg.ID != "7" || tg.Key() != "p/z/n" {
		t.Fatalf("%+v", tg)
	}
}

func TestConfigure(t *testing.T) {
	key, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	base := func() *sshclient.Connector {
		c := &sshclient.Connector{Dialer: sshclient.DialerFunc(func(context.Context, sshclient.Target) (net.Conn, error) {
			return nil, errors.New("base dialer")
		})}
		c.Options.Email = "alice@example.com"
		return c
	}
	s := Settings{User: "ops", Port: 22, KeyType: sshclient.KeyECDSAP256, Validity: time.Hour, Publish: "oslogin", Agent: true, ConnectTimeout: 7 * time.Second, Transport: TransportIAP}
	c := base()
	s.Configure(c, key)
	if c.Key != key || c.User != "ops" || c.Options.Validity != time.Hour || c.Options.Mode != "oslogin" ||
		c.Options.Email != "alice@example.com" || c.HandshakeTimeout != 7*time.Second || c.AgentSigners == nil {
		t.Fatalf("connector not configured: %+v", c)
	}
	// The IAP transport keeps the base dialer (under a timeout).
	if _, err := c.Dialer.DialSSH(context.Background(), sshclient.Target{Instance: "n"}); err == nil || err.Error() != "base dialer" {
		t.Fatalf("IAP transport dial: %v", err)
	}
	s.Agent = false
	c = base()
	s.Configure(c, key)
	if c.AgentSigners != nil {
		t.Error("ssh.agent false still offers the agent's keys")
	}
}

func TestTimeoutDialer(t *testing.T) {
	blocked := sshclient.DialerFunc(func(ctx context.Context, _ sshclient.Target) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, err := timeoutDialer(blocked, time.Millisecond).DialSSH(context.Background(), sshclient.Target{Instance: "vm-1"})
	if !errors.Is(err, tunnel.ErrConnectTimeout) || !strings.Contains(err.Error(), "ssh.connect_timeout") {
		t.Fatalf("error %v, want a connect timeout naming the setting", err)
	}
	// The caller's own cancellation is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = timeoutDialer(blocked, time.Hour).DialSSH(ctx, sshclient.Target{Instance: "vm-1"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
}

func TestDirectDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("SSH-2.0-test\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	c := &sshclient.Connector{}
	Settings{Port: port, Transport: TransportDirect}.Configure(c, nil)
	conn, err := c.Dialer.DialSSH(context.Background(), sshclient.Target{Instance: "vm-1", InternalIP: "127.0.0.1", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := conn.Read(buf); err != nil || string(buf) != "SSH-2.0" {
		t.Fatalf("read %q, %v", buf, err)
	}
	conn.Close()
	if _, err := c.Dialer.DialSSH(context.Background(), sshclient.Target{Instance: "vm-1"}); err == nil || !strings.Contains(err.Error(), "no internal IP") {
		t.Fatalf("direct dial without an internal IP: %v", err)
	}
}
