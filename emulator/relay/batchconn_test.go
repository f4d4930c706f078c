package relay

import (
	"net"
	"strings"
	"testing"
	"time"
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
