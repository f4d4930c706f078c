package api

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
)

// TestWindowsPasswordReset drives the whole reset: a windows-keys entry
// written through setMetadata, the agent's answer read from serial port 4
// with partial lines buffered, and the password decrypted.
func TestWindowsPasswordReset(t *testing.T) {
	e := newEnv(t, Options{AgentDelay: 20 * time.Millisecond})
	s := e.computeSvc("alice-token")
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mod := base64.StdEncoding.EncodeToString(priv.N.Bytes())
	entry, _ := json.Marshal(map[string]any{"userName": "alice", "email": "alice@example.com", "modulus": mod, "exponent": "AQAB",
		"expireOn": time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05-0700"), "addToAdministrators": true, "hashFunction": "sha256"})
	in, err := s.Instances.Get("proj-a", "europe-west1-b", "win-1").Do()
	if err != nil {
		t.Fatal(err)
	}
	start, _ := s.Instances.GetSerialPortOutput("proj-a", "europe-west1-b", "win-1").Port(4).Do()
	if _, err := s.Instances.SetMetadata("proj-a", "europe-west1-b", "win-1", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint, Items: items("windows-keys", string(entry))}).Do(); err != nil {
		t.Fatal(err)
	}
	next := start.Next
	var pending string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s.Instances.GetSerialPortOutput("proj-a", "europe-west1-b", "win-1").Port(4).Start(next).Do()
		if err != nil {
			t.Fatal(err)
		}
		next = out.Next
		pending += out.Contents
		sc := bufio.NewScanner(strings.NewReader(pending))
		for strings.Contains(pending, "\n") && sc.Scan() {
			var res struct {
				EncryptedPassword, Modulus, HashFunction string
				PasswordFound                            bool
			}
			if json.Unmarshal(sc.Bytes(), &res) != nil || res.Modulus != mod {
				continue
			}
			ct, _ := base64.StdEncoding.DecodeString(res.EncryptedPassword)
			pw, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
			if err != nil || len(pw) < 15 || !res.PasswordFound || res.HashFunction != "sha256" {
				t.Fatalf("answer %+v: %v", res, err)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no credentials on serial port 4 (read %q)", pending)
}
