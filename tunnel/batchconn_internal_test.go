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

func TestMaskCopy(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, MaxFrameSize} {
		for pos := range 4 {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(i * 7)
			}
			dst := make([]byte, n)
			end := maskCopy(dst, src, key, pos)
			for i := range src {
				if dst[i] != src[i]^key[(pos+i)&3] {
					t.Fatalf("n %d pos %d: byte %d masked wrong", n, pos, i)
				}
			}
			if end != (pos+n)&3 {
				t.Fatalf("n %d pos %d: end position %d", n, pos, end)
			}
		}
	}
}

// TestWriteFrame reads the frames writeFrame makes back as a WebSocket
// server would: FIN and binary, masked, the right length, and the payload
// once unmasked.
func TestWriteFrame(t *testing.T) {
	for _, n := range []int{1, 119, 120, 121, 1000, MaxDataPayload} {
		rec := &writeRecorder{Conn: nopConn{}}
		c := &batchConn{Conn: rec}
		p := bytes.Repeat([]byte{0xa5, 0x01, 0x77}, n/3+1)[:n]
		c.Hold()
		if err := c.writeFrame(AppendDataHeader(nil, n), p); err != nil {
			t.Fatal(err)
		}
		c.Flush()
		if len(rec.writes) != 1 {
			t.Fatalf("%d writes", len(rec.writes))
		}
		b := rec.writes[0]
		if b[0] != 0x82 || b[1]&0x80 == 0 {
			t.Fatalf("n %d: first bytes %x, want FIN binary masked", n, b[:2])
		}
		size, b := int(b[1]&0x7f), b[2:]
		if size == 126 {
			size, b = int(b[0])<<8|int(b[1]), b[2:]
		}
		key, b := [4]byte(b[:4]), b[4:]
		if size != len(b) || size != 6+n {
			t.Fatalf("n %d: frame says %d bytes, has %d", n, size, len(b))
		}
		for i := range b {
			b[i] ^= key[i&3]
		}
		f, err := Decode(b)
		if err != nil || f.Tag != TagData || !bytes.Equal(f.Data, p) {
			t.Fatalf("n %d: decoded %v, %v", n, f.Tag, err)
		}
	}
}

func TestWriteFrameAfterClose(t *testing.T) {
	rec := &writeRecorder{Conn: nopConn{}}
	c := &batchConn{Conn: rec, framing: true}
	c.Write([]byte{0x88, 0x80, 0, 0, 0, 0}) // the library's CLOSE
	c.Hold()
	if err := c.writeFrame(AppendDataHeader(nil, 1), []byte("x")); err == nil {
		t.Fatal("a DATA frame was written after CLOSE")
	}
}

func BenchmarkMaskCopy(b *testing.B) {
	src := make([]byte, MaxFrameSize)
	dst := make([]byte, MaxFrameSize)
	b.SetBytes(MaxFrameSize)
	for range b.N {
		maskCopy(dst, src, [4]byte{1, 2, 3, 4}, 2)
	}
}
