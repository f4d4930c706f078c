package tunnel_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"iapterm/tunnel"
)

const benchChunk = 1 << 20

// sinkScript acknowledges everything the client sends, like a relay whose
// backend reads as fast as it can.
func sinkScript(c *websocket.Conn, _ *http.Request) {
	send(c, tunnel.AppendConnectSuccessSID(nil, "bench"))
	var got, acked uint64
	buf := make([]byte, 32*1024)
	for {
		fr, err := readFrameInto(c, buf)
		if err != nil {
			return
		}
		if fr.Tag == tunnel.TagData {
			got += uint64(len(fr.Data))
			if got-acked >= 64*1024 {
				send(c, tunnel.AppendAck(nil, got))
				acked = got
			}
		}
	}
}

// sourceScript sends DATA as fast as the client acknowledges it, keeping at
// most 1.5 MiB unacknowledged (the emulator's default window).
func sourceScript(c *websocket.Conn, _ *http.Request) {
	send(c, tunnel.AppendConnectSuccessSID(nil, "bench"))
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var sent, acked uint64
	done := false
	go func() {
		buf := make([]byte, 1024)
		for {
			fr, err := readFrameInto(c, buf)
			mu.Lock()
			if err != nil {
				done = true
			} else if fr.Tag == tunnel.TagAck {
				acked = fr.Ack
			}
			cond.Broadcast()
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	msg := tunnel.AppendData(nil, make([]byte, tunnel.MaxDataPayload))
	for {
		mu.Lock()
		for !done && sent-acked > 1536*1024 {
			cond.Wait()
		}
		stop := done
		mu.Unlock()
		if stop || send(c, msg) != nil {
			return
		}
		mu.Lock()
		sent += tunnel.MaxDataPayload
		mu.Unlock()
	}
}

func BenchmarkSessionUpload(b *testing.B) {
	f := newFakeRelay(b)
	f.script = sinkScript
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
}

func BenchmarkSessionDownload(b *testing.B) {
	f := newFakeRelay(b)
	f.script = sourceScript
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchChunk)
	b.ResetTimer()
	if _, err := io.CopyN(io.Discard, s, int64(b.N)*benchChunk); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	s.Close()
}

// BenchmarkLoopbackTCP is the baseline: the same copy over plain loopback TCP.
func BenchmarkLoopbackTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
