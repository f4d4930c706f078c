package agent

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"time"

	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
)

// windowsKey is one line of the windows-keys metadata entry.
type windowsKey struct {
	UserName            string `json:"userName"`
	Email               string `json:"email"`
	Modulus             string `json:"modulus"`
	Exponent            string `json:"exponent"`
	ExpireOn            string `json:"expireOn"`
	AddToAdministrators *bool  `json:"addToAdministrators,omitempty"`
	HashFunction        string `json:"hashFunction,omitempty"`
	PasswordLength      int    `json:"passwordLength,omitempty"`
}

// credentialsLine is what the agent prints on serial port 4.
type credentialsLine struct {
	ErrorMessage      string `json:"errorMessage,omitempty"`
	EncryptedPassword string `json:"encryptedPassword,omitempty"`
	UserName          string `json:"userName"`
	PasswordFound     bool   `json:"passwordFound,omitempty"`
	Exponent          string `json:"exponent"`
	Modulus           string `json:"modulus"`
	HashFunction      string `json:"hashFunction,omitempty"`
}

// windowsState remembers which entries were processed, so each
// (userName, modulus, expireOn) gets exactly one answer.
type windowsState struct {
	seen map[string]bool
}

// process returns the serial port 4 lines (each ending in "\n") for the
// new entries of a windows-keys value.
func (w *windowsState) process(value string, now time.Time) []string {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	var out []string
	for line := range strings.SplitSeq(value, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var k windowsKey
		if json.Unmarshal([]byte(line), &k) != nil {
			continue
		}
		if k.UserName == "" || k.Modulus == "" || k.Exponent == "" {
			continue
		}
		exp, ok := ParseExpiry(k.ExpireOn)
		if !ok || !now.Before(exp) {
			continue
		}
		id := k.UserName + "\x00" + k.Modulus + "\x00" + k.ExpireOn
		if w.seen[id] {
			continue
		}
		w.seen[id] = true
		out = append(out, credentialsFor(k))
	}
	return out
}

// credentialsFor answers one entry: a fresh password encrypted to the
// entry's key, or an error line.
func credentialsFor(k windowsKey) string {
	res := credentialsLine{UserName: k.UserName, Modulus: k.Modulus, Exponent: k.Exponent}
	ct, hashName, err := encryptNewPassword(k)
	if err != nil {
		res.ErrorMessage = err.Error()
	} else {
		res.EncryptedPassword = base64.StdEncoding.EncodeToString(ct)
		res.PasswordFound = true
		res.HashFunction = hashName
	}
	b, _ := json.Marshal(res)
	return string(b) + "\n"
}

func encryptNewPassword(k windowsKey) ([]byte, string, error) {
	var h hash.Hash
	name := k.HashFunction
	switch name {
	case "", "sha1":
		h, name = sha1.New(), "sha1"
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, "", fmt.Errorf("unknown hash function %q", k.HashFunction)
	}
	mod, err := base64.StdEncoding.DecodeString(k.Modulus)
	if err != nil {
		return nil, "", fmt.Errorf("error decoding modulus: %w", err)
	}
	expb, err := base64.StdEncoding.DecodeString(k.Exponent)
	if err != nil {
		return nil, "", fmt.Errorf("error decoding exponent: %w", err)
	}
	e := new(big.Int).SetBytes(expb)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, "", errors.New("invalid exponent")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(mod), E: int(e.Int64())}
	if pub.N.BitLen() < 1024 {
		return nil, "", errors.New("modulus too small")
	}
	pw, err := newPassword(max(15, k.PasswordLength))
	if err != nil {
		return nil, "", err
	}
	ct, err := rsa.EncryptOAEP(h, rand.Reader, pub, []byte(pw), nil)
	if err != nil {
		return nil, "", fmt.Errorf("error encrypting password: %w", err)
	}
	return ct, name, nil
}

// newPassword returns a random password of n characters that has upper and
// lower case letters, a digit and a symbol, as Windows complexity rules want.
func newPassword(n int) (string, error) {
	const (
		lower  = "abcdefghijkmnopqrstuvwxyz"
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits = "23456789"
		symbol = "!#$%&()*+-./:;<=>?@[]^_{}~"
		all    = lower + upper + digits + symbol
	)
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[i.Int64()], nil
	}
	b := make([]byte, n)
	for i := range b {
		set := all
		switch i {
		case 0:
			set = lower
		case 1:
			set = upper
		case 2:
			set = digits
		case 3:
			set = symbol
		}
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	return string(b), nil
}
