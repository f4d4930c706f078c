package relay

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/emulator/cloud"
	"iapterm/tunnel"
	"iapterm/wsbatch"
)

var (
	errInUse = errors.New("session in use")
	errGone  = errors.New("session ended")
)

// chunk is data read from the backend, kept until the client acknowledges
// it. A chunk holds what one read returned; the writer cuts it into DATA
// messages.
type chunk struct {
	off  uint64
	data []byte
	buf  *backBuf // data's backing buffer
}

// backBuf is a buffer successive backend reads fill; chunks refer into it
// and it goes back to its pool when the last of them is acknowledged, so no
// chunk pins more than its buffer holds unacknowledged, and no read is
// copied.
type backBuf struct {
	b    []byte
	refs int // chunks plus the reader's own; under session.mu
}

// Backend read buffers: small for interactive traffic, big once a read
// fills its room, so bulk data takes one read per 32 DATA messages.
const (
	smallBack = tunnel.MaxDataPayload
	bigBack   = 32 * tunnel.MaxDataPayload
	minRoom   = 4096 // a buffer with less room left is retired
)

var (
	smallBackPool = sync.Pool{New: func() any { return &backBuf{b: make([]byte, smallBack)} }}
	bigBackPool   = sync.Pool{New: func() any { return &backBuf{b: make([]byte, bigBack)} }}
)

func putBackBuf(b *backBuf) {
	if len(b.b) == bigBack {
		bigBackPool.Put(b)
	} else {
		smallBackPool.Put(b)
	}
}

// unrefLocked drops a reference to b, recycling it after the last (later,
// while a writer may still be copying from it without the lock).
func (s *session) unrefLocked(b *backBuf) {
	b.refs--
	if b.refs > 0 {
		return
	}
	if s.sending > 0 {
		s.freeLater = append(s.freeLater, b)
	} else {
		putBackBuf(b)
	}
}

// backChunk is client data on its way to the backend; buf is the pooled
// message buffer that holds it, recycled once written.
type backChunk struct {
	data []byte
	buf  *[]byte
}

// msgPool holds client message buffers: one byte more than the largest
// message Decode accepts, so a longer one is seen as such.
var msgPool = sync.Pool{New: func() any { b := make([]byte, tunnel.MaxFrameSize+1024+1); return &b }}

// clientBacklog is the least client data the relay holds for a slow
// backend before it stops reading the WebSocket: more than a bounded
// client (the tunnel package's 8 MiB and a frame) leaves unacknowledged,
// so the client's ACKs behind that data are always read.
const clientBacklog = 16 << 20

// backendBatch bounds how many client messages one backend write carries.
const backendBatch = 16

// session is one tunnel: a backend connection that outlives the
// WebSockets attached to it one at a time.
type session struct {
	h       *Handler
	sid     string
	email   string
	inst    cloud.Instance
	port    int
	backend net.Conn
	log     *slog.Logger
	started sync.Once

	mu   sync.Mutex
	cond *sync.Cond
	// Server to client.
	buf   []chunk // unacknowledged data, in order
	sent  uint64  // bytes read from the backend: the end of buf
	acked uint64  // the client's cumulative ACK
	eof   bool    // the backend closed its side
	// Client to server.
	recvd       uint64      // bytes received from the client
	written     uint64      // of them, written to the backend: what ACKs carry
	toBack      []backChunk // received, not yet written to the backend
	toBackBytes int
	clientDone  bool // the client closed normally: drain toBack, then end
	lastAckSent uint64
	ackIdle     bool // the idle timer fired
	// sending counts writers copying chunk data without the lock; buffers
	// acknowledged meanwhile wait in freeLater.
	sending   int
	freeLater []*backBuf
	ackTimer  *time.Timer
	// Attachment.
	conn        *attachment
	resuming    bool
	detachTimer *time.Timer
	injected    bool
	closed      bool
	endCode     int
	endReason   string
}

// attachment is one WebSocket of a session.
type attachment struct {
	ws         *websocket.Conn
	next       uint64 // next offset to send on this WebSocket
	count      int64  // payload bytes both ways, for DropEvery
	closeCode  int    // a close to send (InjectClose)
	closing    bool   // the server sent or is sending CLOSE
	dead       bool
	readerDone chan struct{}
}

func newSession(h *Handler, inst cloud.Instance, port int, email string, backend net.Conn) *session {
	s := &session{
		h: h, sid: newSID(), email: email, inst: inst, port: port, backend: backend,
	}
	s.log = h.log.With("instance", inst.Key(), "port", port, "user", email, "sid_prefix", s.sid[:6])
	s.cond = sync.NewCond(&s.mu)
	return s
}

// start runs the backend's reader and writer.
func (s *session) start() {
	s.started.Do(func() {
		go s.readBackend()
		go s.writeBackend()
	})
}

func (s *session) readBackend() {
	var fill *backBuf // the buffer reads go into
	used, big := 0, false
	defer func() {
		if fill != nil {
			s.mu.Lock()
			s.unrefLocked(fill)
			s.mu.Unlock()
		}
	}()
	for {
		s.mu.Lock()
		for !s.closed && s.sent-s.acked >= uint64(s.h.o.Window) {
			s.cond.Wait()
		}
		closed := s.closed
		// Never read beyond the window.
		open := uint64(s.h.o.Window) - (s.sent - s.acked)
		if fill == nil || len(fill.b)-used < minRoom {
			if fill != nil {
				s.unrefLocked(fill)
			}
			if big {
				fill = bigBackPool.Get().(*backBuf)
			} else {
				fill = smallBackPool.Get().(*backBuf)
			}
			fill.refs, used = 1, 0
		}
		s.mu.Unlock()
		if closed {
			return
		}
		room := fill.b[used:]
		room = room[:min(uint64(len(room)), open)]
		n, err := s.backend.Read(room)
		if n > 0 {
			big = n == len(room)
			c := chunk{off: s.sent, data: room[:n:n], buf: fill}
			used += n
			s.mu.Lock()
			fill.refs++
			s.buf = append(s.buf, c)
			s.sent += uint64(n)
			s.cond.Broadcast()
			s.mu.Unlock()
		}
		if err != nil {
			s.mu.Lock()
			s.eof = true
			s.cond.Broadcast()
			s.mu.Unlock()
			s.log.Debug("backend closed", "err", err)
			return
		}
	}
}

func (s *session) writeBackend() {
	var batch []backChunk
	var bufs net.Buffers
	for {
		s.mu.Lock()
		for !s.closed && len(s.toBack) == 0 && !s.clientDone {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		if len(s.toBack) == 0 {
			// The client closed and everything it sent has reached the
			// backend: only now may the backend connection close.
			s.mu.Unlock()
			s.end(0, "")
			return
		}
		// Everything queued goes in one writev: one system call for
		// several messages when the backend is the bottleneck.
		k := min(len(s.toBack), backendBatch)
		batch = append(batch[:0], s.toBack[:k]...)
		clear(s.toBack[:k])
		s.toBack = s.toBack[k:]
		s.mu.Unlock()
		bufs = bufs[:0]
		size := 0
		for _, c := range batch {
			bufs = append(bufs, c.data)
			size += len(c.data)
		}
		_, err := bufs.WriteTo(s.backend)
		for i, c := range batch {
			msgPool.Put(c.buf)
			batch[i] = backChunk{}
		}
		s.mu.Lock()
		s.toBackBytes -= size
		if err == nil {
			s.written += uint64(size)
			s.armAckTimerLocked()
		}
		s.cond.Broadcast()
		s.mu.Unlock()
		if err != nil {
			s.log.Info("backend write failed", "err", err)
			s.end(CloseDestinationWriteFail, "destination write failed")
			return
		}
	}
}

// attach makes c the session's WebSocket, sending from offset next.
func (s *session) attach(c *websocket.Conn, next uint64) {
	a := &attachment{ws: c, next: next, readerDone: make(chan struct{})}
	s.mu.Lock()
	s.resuming = false
	if s.closed {
		s.mu.Unlock()
		s.h.untrack(c)
		c.NetConn().Close()
		return
	}
	if s.detachTimer != nil {
		s.detachTimer.Stop()
		s.detachTimer = nil
	}
	s.conn = a
	s.mu.Unlock()
	go s.readLoop(a)
	go s.writeLoop(a)
}

// detach forgets a (if it is still the session's WebSocket), drops its
// TCP connection and starts the reconnect timer.
func (s *session) detach(a *attachment, why string) {
	s.mu.Lock()
	if a.dead {
		s.mu.Unlock()
		return
	}
	a.dead = true
	if s.conn == a {
		s.conn = nil
		s.startDetachTimerLocked()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	a.ws.NetConn().Close()
	s.log.Debug("websocket detached", "why", why)
}

func (s *session) startDetachTimerLocked() {
	if s.closed || s.detachTimer != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(s.h.o.DetachTimeout, func() {
		s.mu.Lock()
		idle := s.conn == nil && !s.resuming
		if !idle && s.detachTimer == t {
			// A reconnect is under way: should it fail, release starts
			// the wait again.
			s.detachTimer = nil
		}
		s.mu.Unlock()
		if idle {
			s.log.Info("session expired without a reconnect")
			s.end(0, "")
		}
	})
	s.detachTimer = t
}

// waitDetached waits up to d for the session to have no WebSocket and
// reports whether it has none.
func (s *session) waitDetached(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		free := s.conn == nil && !s.resuming
		s.mu.Unlock()
		if free || time.Now().After(deadline) {
			return free
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// prepareResume reserves the session for a reconnect whose client has
// received ack bytes, and returns how many bytes the server has received.
func (s *session) prepareResume(ack uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, errGone
	case s.conn != nil || s.resuming:
		return 0, errInUse
	case ack < s.acked || ack > s.sent:
		return 0, fmt.Errorf("client ack %d is outside the data the server holds (%d to %d)", ack, s.acked, s.sent)
	}
	s.resuming = true
	s.setAckedLocked(ack)
	// RECONNECT_SUCCESS_ACK tells the client everything received so far.
	s.lastAckSent = s.recvd
	s.ackIdle = false
	return s.recvd, nil
}

// release undoes prepareResume when the handshake failed.
func (s *session) release() {
	s.mu.Lock()
	s.resuming = false
	s.startDetachTimerLocked()
	s.mu.Unlock()
}

func (s *session) setAckedLocked(ack uint64) {
	s.acked = ack
	i := 0
	for i < len(s.buf) && s.buf[i].off+uint64(len(s.buf[i].data)) <= ack {
		s.unrefLocked(s.buf[i].buf)
		s.buf[i] = chunk{}
		i++
	}
	s.buf = s.buf[i:]
	s.cond.Broadcast()
}

// end closes the session for good: code (when non-zero) goes to the
// attached client.
func (s *session) end(code int, reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.endCode, s.endReason = code, reason
	if s.detachTimer != nil {
		s.detachTimer.Stop()
	}
	if s.ackTimer != nil {
		s.ackTimer.Stop()
	}
	a := s.conn
	sent, recvd := s.sent, s.recvd
	s.cond.Broadcast()
	s.mu.Unlock()
	s.h.mu.Lock()
	if s.h.sessions[s.sid] == s {
		delete(s.h.sessions, s.sid)
	}
	s.h.mu.Unlock()
	s.backend.Close()
	if a == nil {
		s.log.Info("tunnel session ended", "sent", sent, "received", recvd)
	} else {
		s.log.Info("tunnel session ended", "sent", sent, "received", recvd, "close", code)
	}
}

// ackDueLocked reports whether the client's data should be acknowledged
// now. ACKs count what reached the backend, not what was received: a
// client that bounds its unacknowledged data then never sends more than
// the relay can hold without it stops reading the WebSocket, behind
// which the client's own ACKs wait (with an echoing backend both
// directions would stall for good).
func (s *session) ackDueLocked() bool {
	if s.written <= s.lastAckSent {
		return false
	}
	return s.written-s.lastAckSent >= uint64(s.h.o.AckEvery) || s.ackIdle
}

// armAckTimerLocked starts the idle timer that acknowledges a tail too
// small for AckEvery.
func (s *session) armAckTimerLocked() {
	if s.closed || s.ackDueLocked() || s.ackTimer != nil {
		return
	}
	s.ackTimer = time.AfterFunc(s.h.o.AckIdle, func() {
		s.mu.Lock()
		s.ackTimer = nil
		s.ackIdle = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
}

func (s *session) chunkAtLocked(off uint64) []byte {
	for _, c := range s.buf {
		if off >= c.off && off < c.off+uint64(len(c.data)) {
			return c.data[off-c.off:]
		}
	}
	return nil
}

// countLocked adds n payload bytes to a's traffic and applies DropEvery and
// InjectClose; it reports whether a must be dropped now.
func (s *session) countLocked(a *attachment, n int) (drop bool) {
	a.count += int64(n)
	if s.h.o.InjectClose != 0 && !s.injected {
		s.injected = true
		a.closeCode = s.h.o.InjectClose
		s.cond.Broadcast()
	}
	return s.h.o.DropEvery > 0 && a.count >= s.h.o.DropEvery
}

func (s *session) readLoop(a *attachment) {
	defer close(a.readerDone)
	for {
		mt, msg, bp, err := readMessage(a.ws)
		if err != nil {
			s.mu.Lock()
			closing := a.closing
			s.mu.Unlock()
			var ce *websocket.CloseError
			switch {
			case closing:
			case errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure:
				s.log.Debug("client closed the tunnel")
				s.finishAfterDrain()
			default:
				s.detach(a, err.Error())
			}
			return
		}
		s.h.sleep()
		if mt != websocket.BinaryMessage {
			msgPool.Put(bp)
			s.fail(a, CloseInvalidOpcode)
			return
		}
		f, err := tunnel.Decode(msg)
		if err != nil || len(msg) == len(*bp) {
			msgPool.Put(bp)
			s.fail(a, CloseInvalidData)
			return
		}
		if f.Tag != tunnel.TagData {
			msgPool.Put(bp) // nothing below keeps a reference into it
		}
		switch f.Tag {
		case tunnel.TagData:
			s.mu.Lock()
			// Stop reading the client while the backend lags that far
			// behind: TCP then slows the client down.
			for !a.dead && !s.closed && s.toBackBytes >= max(s.h.o.Window, clientBacklog) {
				s.cond.Wait()
			}
			if a.dead || s.closed {
				// A reconnect may already have told the client what was
				// received: this message must not count.
				s.mu.Unlock()
				msgPool.Put(bp)
				return
			}
			wake := len(s.toBack) == 0
			s.toBack = append(s.toBack, backChunk{data: f.Data, buf: bp})
			s.toBackBytes += len(f.Data)
			s.recvd += uint64(len(f.Data))
			drop := s.countLocked(a, len(f.Data))
			// Wakes the backend writer (which takes everything queued, so
			// only when the queue was empty), and the WebSocket writer when
			// an ACK is due: not every goroutine for every message.
			if wake || s.ackDueLocked() {
				s.cond.Broadcast()
			}
			s.armAckTimerLocked()
			s.mu.Unlock()
			if drop {
				s.detach(a, "fault injection: drop-every")
				return
			}
		case tunnel.TagAck:
			s.mu.Lock()
			if a.dead {
				s.mu.Unlock()
				return
			}
			var code int
			switch {
			case f.Ack > a.next:
				code = CloseInvalidAck
			case f.Ack < s.acked:
				code = CloseBadAck
			default:
				s.setAckedLocked(f.Ack)
			}
			s.mu.Unlock()
			if code != 0 {
				s.log.Info("client sent an impossible ACK", "ack", f.Ack)
				s.fail(a, code)
				return
			}
		default:
			s.fail(a, CloseInvalidTag)
			return
		}
	}
}

// backendDrainTimeout bounds how long data a client sent before closing may
// take to reach a backend that stopped reading.
const backendDrainTimeout = 30 * time.Second

// finishAfterDrain ends the session once the data the client sent (and was
// acknowledged) has been written to the backend; closing at once would lose it.
func (s *session) finishAfterDrain() {
	s.mu.Lock()
	s.clientDone = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.backend.SetWriteDeadline(time.Now().Add(backendDrainTimeout))
}

// fail closes a with a protocol error code; the session stays resumable.
func (s *session) fail(a *attachment, code int) {
	s.mu.Lock()
	if a.closeCode == 0 {
		a.closeCode = code
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *session) writeLoop(a *attachment) {
	defer s.h.untrack(a.ws)
	// Messages are gathered into one TCP write while more are queued, and
	// written out before waiting. Not with injected latency, which delays
	// each message on its own.
	var bc *wsbatch.Conn
	if s.h.o.Latency == 0 {
		bc = wsbatch.Of(a.ws)
	}
	// DATA frames go straight into the batch.
	direct := bc.FramesFor(a.ws)
	held := false
	flush := func() error {
		if !held {
			return nil
		}
		held = false
		return bc.Flush()
	}
	defer func() {
		if held {
			bc.Abandon()
		}
	}()
	var ackBuf []byte
	hdr := make([]byte, 0, 6)
	var frames [][]byte
	for {
		s.mu.Lock()
		for !a.dead && !s.closed && a.closeCode == 0 && !s.ackDueLocked() && a.next >= s.sent && !s.eof {
			if held {
				s.mu.Unlock()
				if err := flush(); err != nil {
					s.detach(a, err.Error())
					return
				}
				s.mu.Lock()
				continue
			}
			s.cond.Wait()
		}
		switch {
		case a.dead:
			s.mu.Unlock()
			return
		case s.closed:
			code, reason := s.endCode, s.endReason
			a.closing = true
			s.mu.Unlock()
			// Write out the batch whatever the code: it may hold the
			// library's reply to the client's CLOSE, which detach would
			// otherwise cut off with the connection.
			if flush() == nil && code != 0 {
				s.h.closeConn(a.ws, code, reason, a.readerDone)
			}
			s.detach(a, "session ended")
			return
		case a.closeCode != 0:
			code := a.closeCode
			a.closing = true
			s.mu.Unlock()
			s.log.Info("closing websocket", "code", code)
			if flush() == nil {
				s.h.closeConn(a.ws, code, closeReason(code), a.readerDone)
			}
			s.detach(a, fmt.Sprintf("closed with %d", code))
			return
		}
		var ack []byte
		if s.ackDueLocked() {
			ackBuf = tunnel.AppendAck(ackBuf[:0], s.written)
			ack = ackBuf
			s.lastAckSent = s.written
			s.ackIdle = false
		}
		frames = frames[:0]
		for size := 0; a.next < s.sent && size < wsbatch.Limit; {
			p := s.chunkAtLocked(a.next)
			if len(p) > tunnel.MaxDataPayload {
				p = p[:tunnel.MaxDataPayload]
			}
			frames = append(frames, p)
			a.next += uint64(len(p))
			size += len(p)
		}
		finished := ack == nil && len(frames) == 0 && s.eof && a.next >= s.sent
		if len(frames) > 0 {
			// The payloads are copied without the lock: ACKs must not
			// recycle their buffers until then.
			s.sending++
		}
		s.mu.Unlock()
		if finished {
			s.mu.Lock()
			a.closing = true
			s.mu.Unlock()
			if flush() == nil {
				s.h.closeConn(a.ws, CloseDestinationReadFailed, "destination read failed", a.readerDone)
			}
			s.end(0, "")
			s.detach(a, "backend finished")
			return
		}
		if direct && !held {
			bc.Hold()
			held = true
		}
		var err error
		if ack != nil {
			s.h.sleep()
			err = a.ws.WriteMessage(websocket.BinaryMessage, ack)
		}
		drop := false
		for _, p := range frames {
			if err != nil || drop {
				break
			}
			s.h.sleep()
			if direct {
				err = bc.WriteFrame(tunnel.AppendDataHeader(hdr[:0], len(p)), p, false)
			} else {
				err = writeData(a.ws, hdr[:0], p)
			}
			if err == nil {
				s.mu.Lock()
				drop = s.countLocked(a, len(p))
				s.mu.Unlock()
			}
		}
		if len(frames) > 0 {
			s.mu.Lock()
			s.sending--
			if s.sending == 0 {
				for i, b := range s.freeLater {
					putBackBuf(b)
					s.freeLater[i] = nil
				}
				s.freeLater = s.freeLater[:0]
			}
			s.mu.Unlock()
			clear(frames)
		}
		if err != nil {
			if held && errors.Is(err, websocket.ErrCloseSent) {
				// The client closed: the library's CLOSE reply waits in
				// the batch, behind the frames before it.
				held = false
				bc.Abandon()
			}
			s.detach(a, err.Error())
			return
		}
		if drop {
			// What was counted goes out before the connection drops, or a
			// resumed session would never get past the limit.
			flush()
			s.detach(a, "fault injection: drop-every")
			return
		}
	}
}

// writeData sends one DATA message without assembling it first: the
// WebSocket library copies header and payload into its write buffer,
// which holds a whole message, so it goes out as one frame.
func writeData(ws *websocket.Conn, hdr, p []byte) error {
	w, err := ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(tunnel.AppendDataHeader(hdr, len(p))); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

// readMessage reads one WebSocket message into a pooled buffer (gorilla's
// ReadMessage grows a fresh slice for every message). A message that fills
// the buffer is longer than any valid one.
func readMessage(ws *websocket.Conn) (int, []byte, *[]byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return 0, nil, nil, err
	}
	bp := msgPool.Get().(*[]byte)
	buf := *bp
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			// Not io.ReadFull: over TLS a connection cut mid-message
			// reads as io.ErrUnexpectedEOF, which is no message end.
			msgPool.Put(bp)
			return 0, nil, nil, err
		}
	}
	return mt, buf[:n], bp, nil
}

func closeReason(code int) string {
	switch code {
	case CloseFailedToConnect:
		return "failed to connect to backend"
	case CloseDestinationReadFailed:
		return "destination read failed"
	case CloseNotAuthorized:
		return "not authorized"
	case CloseLookupFailed:
		return "Failed to lookup instance"
	case CloseInvalidAck, CloseBadAck:
		return "invalid ack"
	case CloseInvalidOpcode:
		return "invalid websocket opcode"
	case CloseInvalidTag:
		return "invalid tag"
	case CloseInvalidData:
		return "invalid data"
	}
	return ""
}
