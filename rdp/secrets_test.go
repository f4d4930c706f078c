package rdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

func TestPasswordKeyring(t *testing.T) {
	keyring.MockInit()
	if _, found, err := LoadPassword("p", "z", "vm", "alice"); err != nil || found {
		t.Fatalf("empty keyring: found %v, %v", found, err)
	}
	if err := SavePassword("p", "z", "vm", "alice", "pw1"); err != nil {
		t.Fatal(err)
	}
	if err := SavePassword("p", "z", "vm2", "alice", "pw2"); err != nil {
		t.Fatal(err)
	}
	if pw, found, err := LoadPassword("p", "z", "vm", "alice"); err != nil || !found || pw != "pw1" {
		t.Fatalf("got %q %v %v", pw, found, err)
	}
	if err := DeletePassword("p", "z", "vm", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := DeletePassword("p", "z", "vm", "alice"); err != nil {
		t.Fatalf("deleting a missing password: %v", err)
	}
	if pw, _, _ := LoadPassword("p", "z", "vm2", "alice"); pw != "pw2" {
		t.Fatal("other instance's password lost")
	}
}

func TestOSC52(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte("pa$$"))
	if got := OSC52("pa$$", false); got != "\x1b]52;c;"+enc+"\x07" {
		t.Fatalf("plain %q", got)
	}
	got := OSC52("pa$$", true)
	if !strings.HasPrefix(got, "\x1bPtmux;\x1b\x1b]52;c;"+enc) || !strings.HasSuffix(got, "\x1b\\") {
		t.Fatalf("tmux %q", got)
	}
	var b bytes.Buffer
	t.Setenv("TMUX", "")
	if err := CopyToClipboard(&b, "x"); err != nil || b.String() != OSC52("x", false) {
		t.Fatalf("CopyToClipboard wrote %q, %v", b.String(), err)
	}
}

func TestPasswordKeyringUnavailable(t *testing.T) {
	keyring.MockInitWithError(errors.New("exec: \"dbus-launch\": executable file not found in $PATH"))
	defer keyring.MockInit()
	_, found, err := LoadPassword("p", "z", "vm", "alice")
	if found || err == nil || !strings.Contains(err.Error(), "dbus-launch") {
		t.Fatalf("found %v, err %v", found, err)
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" && !strings.Contains(err.Error(), "Secret Service") {
		t.Errorf("no hint at what the keyring is: %v", err)
	}
	if err := SavePassword("p", "z", "vm", "alice", "hunter2"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("save: %v", err)
	}
}
