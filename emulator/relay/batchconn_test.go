package relay

import (
	"net"
	"strings"
	"testing"
	"time"

	"iapterm/tunnel"
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

func TestBatchConn(t *testing.T) {
	big := strings.Repeat("x", batchLimit-4)
	cases := []struct {
		name string
		run  func(c *batchConn)
		want []string
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
			c.Write([]byte(big))
			c.Write([]byte("tail!"))
			c.Flush()
		}, []string{big, "tail!"}},
		{"Abandon writes out what is held", func(c *batchConn) {
			c.Hold()
			c.Write([]byte("close"))
			c.Abandon()
			c.Write([]byte("after"))
		}, []string{"close", "after"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			c := &batchConn{Conn: rec}
			tc.run(c)
			if len(rec.writes) != len(tc.want) {
				t.Fatalf("%d writes, want %d", len(rec.writes), len(tc.want))
			}
			for i := range tc.want {
				if rec.writes[i] != tc.want[i] {
					t.Fatalf("write %d is %d bytes %.10q, want %d bytes %.10q", i, len(rec.writes[i]), rec.writes[i], len(tc.want[i]), tc.want[i])
				}
			}
		})
	}
}

// TestWriteFrame reads the frames writeFrame makes back as a client would:
// FIN and binary, unmasked, the right length and payload.
func TestWriteFrame(t *testing.T) {
	for _, n := range []int{1, 119, 120, 121, 1000, tunnel.MaxDataPayload} {
		rec := &recorder{}
		c := &batchConn{Conn: rec}
		p := []byte(strings.Repeat("ab\x00", n/3+1)[:n])
		c.Hold()
		if err := c.writeFrame(tunnel.AppendDataHeader(nil, n), p); err != nil {
			t.Fatal(err)
		}
		c.Flush()
		if len(rec.writes) != 1 {
			t.Fatalf("%d writes", len(rec.writes))
		}
		b := []byte(rec.writes[0])
		if b[0] != 0x82 || b[1]&0x80 != 0 {
			t.Fatalf("n %d: first bytes %x, want FIN binary unmasked", n, b[:2])
		}
		size, b := int(b[1]), b[2:]
		if size == 126 {
			size, b = int(b[0])<<8|int(b[1]), b[2:]
		}
		if size != len(b) || size != 6+n {
			t.Fatalf("n %d: frame says %d bytes, has %d", n, size, len(b))
		}
		f, err := tunnel.Decode(b)
		if err != nil || f.Tag != tunnel.TagData || string(f.Data) != string(p) {
			t.Fatalf("n %d: decoded %v, %v", n, f.Tag, err)
		}
	}
}

func TestWriteFrameAfterClose(t *testing.T) {
	c := &batchConn{Conn: &recorder{}}
	c.startFraming()
	c.Write([]byte{0x88, 0}) // the library's CLOSE
	c.Hold()
	if err := c.writeFrame(tunnel.AppendDataHeader(nil, 1), []byte("x")); err == nil {
		t.Fatal("a DATA frame was written after CLOSE")
	}
}
