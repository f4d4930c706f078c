package sessions_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"iapterm/ui/sessions"
	"iapterm/ui/termpane"
)

// Bulk output and key echo through the embedded pane, over the emulator's
// SSH server (in-process: the relay, sshd and shell run in this process,
// so the CPU figures include the server side; compare the two benchmarks,
// whose server work is the same).

const benchBytes = 100 << 20

// stream prints benchBytes of text lines, then a marker the typed command
// line itself does not contain.
var stream = "yes 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ' | head -c " + strconv.Itoa(benchBytes) + "; echo __do''ne__"

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func openConn(b *testing.B) (sessions.Conn, func()) {
	b.Helper()
	e := setup(b)
	inst := e.instance(b, "proj-a", "us-central1-a", "vm-1")
	conn, err := e.opener.Open(context.Background(), inst, 120, 40, sessions.Hooks{})
	if err != nil {
		b.Fatal(err)
	}
	return conn, func() { conn.Close() }
}

// drive runs a pane's frame loop the way Bubble Tea would, until stop.
func drive(p *termpane.Pane, stop <-chan struct{}) {
	cmds := make(chan tea.Cmd, 16)
	msgs := make(chan tea.Msg, 16)
	cmds <- p.Start()
	go func() {
		for c := range cmds {
			go func(c tea.Cmd) {
				if m := c(); m != nil {
					msgs <- m
				}
			}(c)
		}
	}()
	for {
		select {
		case <-stop:
			return
		case m := <-msgs:
			if b, ok := m.(tea.BatchMsg); ok {
				for _, c := range b {
					if c != nil {
						cmds <- c
					}
				}
				continue
			}
			if c := p.Update(m); c != nil {
				cmds <- c
			}
		}
	}
}

func waitScreen(p *termpane.Pane, s string) {
	for !strings.Contains(p.ScreenText(), s) {
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkPaneOutput100MiB: 100 MiB of shell output rendered by the pane
// at up to 30 frames a second.
func BenchmarkPaneOutput100MiB(b *testing.B) {
	conn, done := openConn(b)
	defer done()
	p := termpane.New(termpane.Config{Output: conn, Input: conn, Resize: conn.Resize, Width: 120, Height: 40})
	defer p.Close()
	stop := make(chan struct{})
	defer close(stop)
	go drive(p, stop)
	waitScreen(p, "vm-1:~")
	b.SetBytes(benchBytes)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		p.Write([]byte("clear; " + stream + "\r"))
		waitScreen(p, "__done__")
		p.Write([]byte("clear\r"))
		for strings.Contains(p.ScreenText(), "__done__") {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkRawOutput100MiB: the same output on a PTY session copied
// straight to a sink, as full-screen `iapterm ssh` copies it to the
// terminal (the host terminal's own rendering is not included).
func BenchmarkRawOutput100MiB(b *testing.B) {
	e := setup(b)
	inst := e.instance(b, "proj-a", "us-central1-a", "vm-1")
	b.SetBytes(benchBytes)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		conn, err := e.opener.Open(context.Background(), inst, 120, 40, sessions.Hooks{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(conn, stream+"; exit\r"); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, conn); err != nil {
			b.Fatal(err)
		}
		conn.Wait()
		conn.Close()
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkPaneKeyEcho: one key typed into the pane until the shell's echo
// is on the pane's screen (loopback through the relay and SSH).
func BenchmarkPaneKeyEcho(b *testing.B) {
	conn, done := openConn(b)
	defer done()
	p := termpane.New(termpane.Config{Output: conn, Input: conn, Resize: conn.Resize, Width: 120, Height: 40})
	defer p.Close()
	stop := make(chan struct{})
	defer close(stop)
	go drive(p, stop)
	waitScreen(p, "vm-1:~")
	// cat echoes each line back; the PTY echoes each key.
	p.Write([]byte("stty -icanon; cat >/dev/null\r"))
	time.Sleep(200 * time.Millisecond)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := byte('a' + i%26)
		want := p.BytesRead() + 1
		p.Update(tea.KeyPressMsg{Code: rune(c), Text: string(c)})
		for p.BytesRead() < want {
			time.Sleep(20 * time.Microsecond)
		}
	}
}
