package termpane

import (
	"io"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// BenchmarkOutput feeds text lines with some colour through a pane whose
// frames are drawn as Bubble Tea would draw them (at most 30 a second).
func BenchmarkOutput(b *testing.B) {
	line := "\x1b[32mok\x1b[0m the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ\r\n"
	chunk := []byte(strings.Repeat(line, 32*1024/len(line)))
	const total = 16 << 20
	b.SetBytes(total)
	for i := 0; i < b.N; i++ {
		pr, pw := io.Pipe()
		p := New(Config{Output: pr, Input: io.Discard, Width: 120, Height: 40})
		frames := make(chan tea.Msg, 1)
		go func() { frames <- p.Start()() }()
		done := make(chan struct{})
		go func() {
			for n := 0; n < total; n += len(chunk) {
				pw.Write(chunk)
			}
			pw.Close()
			close(done)
		}()
		for {
			msg := <-frames
			cmd := p.Update(msg)
			if _, ok := msg.(ClosedMsg); ok {
				break
			}
			for _, m := range runBatch(cmd) {
				frames <- m
				break
			}
		}
		<-done
		p.Close()
	}
}
