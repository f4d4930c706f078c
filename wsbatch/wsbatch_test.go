package wsbatch

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recorder is a net.Conn that records each Write as one system call.
type recorder struct {
	net.Conn
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

func TestConn(t *testing.T) {
	big := strings.Repeat("x", Limit-10)
	cases := []struct {
		name string
		run  func(c *Conn)
		want []string // the writes that reached the connection
	}{
		{"not held: each write goes through", func(c *Conn) {
			c.Write([]byte("a"))
			c.Write([]byte("b"))
		}, []string{"a", "b"}},
		{"held: gathered until Flush", func(c *Conn) {
			c.Hold()
			c.Write([]byte("a"))
			c.Write([]byte("b"))
			c.Flush()
			c.Write([]byte("c"))
		}, []string{"ab", "c"}},
		{"held: nothing goes out before Flush", func(c *Conn) {
			c.Hold()
			c.Write([]byte("a"))
		}, nil},
		{"held: a write that does not fit sends the buffer first", func(c *Conn) {
			c.Hold()
			c.Write([]byte(big))
			c.Write([]byte("0123456789abc"))
			c.Flush()
		}, []string{big, "0123456789abc"}},
		{"held: a write larger than the buffer goes straight out, in order", func(c *Conn) {
			c.Hold()
			c.Write([]byte("a"))
			c.Write([]byte(big + big))
			c.Flush()
		}, []string{"a", big + big}},
		{"Flush without Hold writes nothing", func(c *Conn) {
			c.Flush()
			c.Flush()
		}, nil},
		{"Abandon writes out what is held", func(c *Conn) {
			c.Hold()
			c.Write([]byte("close"))
			c.Abandon()
		}, []string{"close"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tc.run(New(rec))
			if strings.Join(rec.writes, "|") != strings.Join(tc.want, "|") || len(rec.writes) != len(tc.want) {
				t.Fatalf("writes = %d %q..., want %d", len(rec.writes), trunc(rec.writes), len(tc.want))
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

func TestMaskCopy(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 16390} {
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

// TestWriteFrame reads the frames WriteFrame makes back as the other side
// would: FIN and binary, masked only for a client, the right length, and
// the header and payload once unmasked.
func TestWriteFrame(t *testing.T) {
	hdr := []byte{0, 4, 1, 2, 3, 4}
	for _, mask := range []bool{false, true} {
		for _, n := range []int{1, 119, 120, 121, 1000, 16384} {
			rec := &recorder{}
			c := New(rec)
			c.framing = true
			p := bytes.Repeat([]byte{0xa5, 0x01, 0x77}, n/3+1)[:n]
			c.Hold()
			if err := c.WriteFrame(hdr, p, mask); err != nil {
				t.Fatal(err)
			}
			c.Flush()
			if len(rec.writes) != 1 {
				t.Fatalf("%d writes", len(rec.writes))
			}
			b := []byte(rec.writes[0])
			if b[0] != 0x82 || (b[1]&0x80 != 0) != mask {
				t.Fatalf("mask %v n %d: first bytes %x", mask, n, b[:2])
			}
			size, b := int(b[1]&0x7f), b[2:]
			if size == 126 {
				size, b = int(b[0])<<8|int(b[1]), b[2:]
			}
			if mask {
				key := [4]byte(b[:4])
				b = b[4:]
				for i := range b {
					b[i] ^= key[i&3]
				}
			}
			if size != len(b) || size != len(hdr)+n {
				t.Fatalf("mask %v n %d: frame says %d bytes, has %d", mask, n, size, len(b))
			}
			if !bytes.Equal(b[:len(hdr)], hdr) || !bytes.Equal(b[len(hdr):], p) {
				t.Fatalf("mask %v n %d: payload differs", mask, n)
			}
		}
	}
}

func TestWriteFrameRefused(t *testing.T) {
	c := New(&recorder{})
	c.Hold()
	if err := c.WriteFrame(nil, []byte("x"), false); err == nil {
		t.Fatal("a frame was written before FramesFor")
	}
	c.framing = true
	c.Flush()
	if err := c.WriteFrame(nil, []byte("x"), false); err == nil {
		t.Fatal("a frame was written outside Hold")
	}
	c.Hold()
	if err := c.WriteFrame(nil, make([]byte, 0x10000), false); err == nil {
		t.Fatal("a frame too large for a 16-bit length was written")
	}
	c.Write([]byte{0x88, 0}) // the library's CLOSE
	if err := c.WriteFrame(nil, []byte("x"), false); err == nil {
		t.Fatal("a DATA frame was written after CLOSE")
	}
}

func BenchmarkMaskCopy(b *testing.B) {
	src := make([]byte, 16390)
	dst := make([]byte, 16390)
	b.SetBytes(int64(len(src)))
	for range b.N {
		maskCopy(dst, src, [4]byte{1, 2, 3, 4}, 2)
	}
}

// TestOfAndFramesFor dials real WebSocket servers through a Conn: Of finds
// it with and without TLS; frames may be written into it only without TLS
// between.
func TestOfAndFramesFor(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, p, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(mt, p) != nil {
				return
			}
		}
	})
	for _, useTLS := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(echo)
		if useTLS {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		d := websocket.Dialer{
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return New(c), nil
			},
			TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig,
		}
		ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := Of(ws)
		if c == nil {
			t.Fatalf("TLS %v: Of found no Conn", useTLS)
		}
		if got := c.FramesFor(ws); got == useTLS {
			t.Fatalf("TLS %v: FramesFor = %v", useTLS, got)
		}
		c.Hold()
		if !useTLS {
			if err := c.WriteFrame([]byte("he"), []byte("llo"), true); err != nil {
				t.Fatal(err)
			}
		} else if err := ws.WriteMessage(websocket.BinaryMessage, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		_, p, err := ws.ReadMessage()
		if err != nil || string(p) != "hello" {
			t.Fatalf("TLS %v: echo %q, %v", useTLS, p, err)
		}
		ws.Close()
		srv.Close()
	}
}
