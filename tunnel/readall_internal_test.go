package tunnel

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAll(t *testing.T) {
	cut := errors.New("cut")
	cases := []struct {
		name    string
		r       io.Reader
		size    int
		want    string
		wantErr error
	}{
		{"message in pieces", iotest.OneByteReader(strings.NewReader("hello")), 16, "hello", nil},
		{"message fills the buffer exactly", strings.NewReader("hello"), 5, "hello", nil},
		{"empty message", strings.NewReader(""), 5, "", nil},
		{"longer than the buffer", strings.NewReader("hello!"), 5, "", ErrProtocol},
		// TLS reports a connection cut mid-record as io.ErrUnexpectedEOF:
		// that is a failed read, not a short message.
		{"cut mid-message", io.MultiReader(strings.NewReader("hel"), iotest.ErrReader(io.ErrUnexpectedEOF)), 16, "", io.ErrUnexpectedEOF},
		{"other error", iotest.ErrReader(cut), 16, "", cut},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.size)
			n, err := readAll(tc.r, buf)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && string(buf[:n]) != tc.want {
				t.Fatalf("read %q, want %q", buf[:n], tc.want)
			}
		})
	}
}
