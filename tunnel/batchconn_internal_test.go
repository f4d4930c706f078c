package tunnel

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// writeRecorder is a net.Conn that records each Write as one system call.
type writeRecorder struct {
	net.Conn
	writes [][]byte
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestBatchConn(t *testing.T) {
	big := bytes.Repeat([]byte("x"), batchLimit-10)
	cases := []struct {
		name string
		run  func(c *batchConn)
		want []string // the writes that reached the connection
	}{
		{"not held: each write goes through", func(c *batchConn) {
			c.Write([]byte("a"))
			c.Write([]byte("b"))
		}, []string{"a", "b"}},
		{"held: gathered until Flush", func(c *batchConn) {
			c.Hold()
			c.Write([]byte("a"))
			c.Write([]byte("b"))
			c.Flush()
			c.Write([]byte("c"))
		}, []string{"ab", "c"}},
		{"held: nothing goes out before Flush", func(c *batchConn) {
			c.Hold()
			c.Write([]byte("a"))
		}, nil},
		{"held: a write that does not fit sends the buffer first", func(c *batchConn) {
			c.Hold()
			c.Write(big)
			c.Write([]byte("0123456789abc"))
			c.Flush()
		}, []string{string(big), "0123456789abc"}},
		{"Flush without Hold writes nothing", func(c *batchConn) {
			c.Flush()
			c.Flush()
		}, nil},
		{"Abandon writes out what is held", func(c *batchConn) {
			c.Hold()
			c.Write([]byte("close"))
			c.Abandon()
		}, []string{"close"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &writeRecorder{Conn: nopConn{}}
			c := &batchConn{Conn: rec}
			tc.run(c)
			var got []string
			for _, w := range rec.writes {
				got = append(got, string(w))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("writes = %d %q..., want %d", len(got), trunc(got), len(tc.want))
			}
		})
	}
}

func trunc(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w[:min(len(w), 16)]
	}
	return out
}

// nopConn is a net.Conn whose deadlines are no-ops.
type nopConn struct{ net.Conn }

func (nopConn) SetWriteDeadline(time.Time) error { return nil }

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
