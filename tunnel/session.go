package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/wsbatch"
)

// Session is one relay session: a net.Conn to a VM port that survives
// network drops. It resumes on transport errors and resumable close codes,
// resending what the relay has not acknowledged and never delivering a
// received byte twice. Read and Write may be called concurrently (one reader,
// one writer).
type Session struct {
	d            *Dialer
	t            Target
	log          *slog.Logger
	ackIdle      time.Duration
	ackThreshold uint64
	sendLimit    uint64
	closeTimeout time.Duration

	ctx    context.Context // cancelled when Close is done flushing
	cancel context.CancelFunc
	done   chan struct{} // closed when the run loop has exited

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	sid     string

	// Send side. sendQ holds every chunk written but not acknowledged, in
	// offset order; offsets count payload bytes since the first connect.
	sendQ       []sendChunk
	written     uint64 // end offset of sendQ
	transmitted uint64 // bytes sent on the current WebSocket (from 0)
	serverAck   uint64 // highest ACK from the relay
	// sending is set while the writer copies payloads out of sendQ without
	// the lock; buffers an ACK drops meanwhile wait in freeLater.
	sending   bool
	freeLater []*sendBuf

	// The buffer writes and reads of the local connection fill (one writer
	// at a time; fillMu guards against more).
	fillMu   sync.Mutex
	fill     *sendBuf
	fillUsed int
	fillBig  bool // the last fill filled its room: the next buffer is big

	// Receive side.
	recvQ           []recvChunk
	received        uint64 // payload bytes received from the relay
	consumed        uint64 // bytes handed to the reader
	ackSent         uint64 // last ACK (or reconnect ack) sent
	ackPendingSince time.Time

	longClose string
	err       error // terminal state: io.EOF, a *CloseError, ...
	closed    bool  // Close was called

	reconnects atomic.Int64
	readDL     deadline
	writeDL    deadline
}

// sendChunk is payload written but not acknowledged. A chunk may hold
// several DATA messages' worth; the writer cuts it into messages.
type sendChunk struct {
	off  uint64
	data []byte   // never modified once queued
	buf  *sendBuf // data's backing buffer
}

func (c sendChunk) end() uint64 { return c.off + uint64(len(c.data)) }

// sendBuf is a buffer that successive writes (or reads of the local
// connection) fill; the chunks queued from it refer into it, and it goes
// back to its pool once the last of them is acknowledged. So a chunk never
// pins more memory than its buffer holds unacknowledged data, and bulk reads
// land where they are sent from, without a copy.
type sendBuf struct {
	b    []byte
	refs int // queued chunks plus the filler's own; under Session.mu
}

// Send buffer sizes: small for interactive traffic, big once a read or
// write fills a buffer, so bulk data takes one system call per 32 DATA
// messages.
const (
	smallSend = MaxDataPayload
	bigSend   = 32 * MaxDataPayload
	// minFill: a buffer with less room left than this is retired.
	minFill = 4096
)

var (
	smallSendPool = sync.Pool{New: func() any { return &sendBuf{b: make([]byte, smallSend)} }}
	bigSendPool   = sync.Pool{New: func() any { return &sendBuf{b: make([]byte, bigSend)} }}
)

func putSendBuf(b *sendBuf) {
	if len(b.b) == bigSend {
		bigSendPool.Put(b)
	} else {
		smallSendPool.Put(b)
	}
}

// unrefLocked drops one reference to b, recycling it after the last (later,
// if the writer may still be copying from it).
func (s *Session) unrefLocked(b *sendBuf) {
	b.refs--
	if b.refs > 0 {
		return
	}
	if s.sending {
		s.freeLater = append(s.freeLater, b)
	} else {
		putSendBuf(b)
	}
}

type recvChunk struct {
	buf  *[]byte // pooled backing array, or nil
	data []byte
}

// Message buffers: one relay message, the largest a peer may send.
var msgPool = sync.Pool{New: func() any { b := make([]byte, MaxFrameSize+maxSIDLen); return &b }}

// smallCopy: payloads below this are copied out of the pooled buffer so many
// tiny messages cannot pin many large buffers.
const smallCopy = 4096

func newSession(d *Dialer, t Target, conn *websocket.Conn, sid string) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		d:            d,
		t:            t,
		log:          d.logger().With("target", t.Key()),
		ackIdle:      durOr(d.AckIdle, DefaultAckIdle),
		ackThreshold: uint64(intOr(d.AckThreshold, DefaultAckThreshold)),
		sendLimit:    uint64(max(intOr(d.SendBufferLimit, DefaultSendBufferLimit), MaxDataPayload)),
		closeTimeout: durOr(d.CloseTimeout, DefaultCloseTimeout),
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		sid:          sid,
		readDL:       newDeadline(),
		writeDL:      newDeadline(),
	}
	go s.run(conn)
	return s
}

// SID is the relay's session ID.
func (s *Session) SID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.sid }

// Target is where the session goes.
func (s *Session) Target() Target { return s.t }

// BytesSent counts payload bytes the relay acknowledged.
func (s *Session) BytesSent() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.serverAck }

// BytesReceived counts payload bytes received from the relay.
func (s *Session) BytesReceived() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.received }

// Reconnects counts successful resumptions.
func (s *Session) Reconnects() int { return int(s.reconnects.Load()) }

// LongCloseReason is the reason of the last LONG_CLOSE message, if any.
func (s *Session) LongCloseReason() string { s.mu.Lock(); defer s.mu.Unlock(); return s.longClose }

// Err is the session's terminal error (nil while it is live, io.EOF after a
// normal end).
func (s *Session) Err() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) LocalAddr() net.Addr  { return dialAddr("local") }
func (s *Session) RemoteAddr() net.Addr { return dialAddr(s.t.Key()) }

func (s *Session) SetDeadline(t time.Time) error {
	s.readDL.set(t)
	s.writeDL.set(t)
	s.broadcast()
	return nil
}

func (s *Session) SetReadDeadline(t time.Time) error {
	s.readDL.set(t)
	s.broadcast()
	return nil
}

func (s *Session) SetWriteDeadline(t time.Time) error {
	s.writeDL.set(t)
	s.broadcast()
	return nil
}

func (s *Session) broadcast() {
	s.mu.Lock()
	s.broadcastLocked()
	s.mu.Unlock()
}

func (s *Session) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// fail records the terminal error (the first one wins).
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.broadcastLocked()
	s.mu.Unlock()
}

// Read reads received data; after a normal end it returns io.EOF once every
// byte was delivered.
func (s *Session) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return 0, net.ErrClosed
		}
		dl := s.readDL.wait()
		select {
		case <-dl:
			s.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		default:
		}
		if len(s.recvQ) > 0 {
			n := 0
			for n < len(p) && len(s.recvQ) > 0 {
				c := &s.recvQ[0]
				m := copy(p[n:], c.data)
				n += m
				c.data = c.data[m:]
				if len(c.data) == 0 {
					s.popRecvLocked()
				}
			}
			s.consumedLocked(uint64(n))
			s.mu.Unlock()
			return n, nil
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return 0, err
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-dl:
		}
		s.mu.Lock()
	}
}

func (s *Session) popRecvLocked() {
	if b := s.recvQ[0].buf; b != nil {
		msgPool.Put(b)
	}
	s.recvQ[0] = recvChunk{}
	s.recvQ = s.recvQ[1:]
}

// consumedLocked accounts delivered bytes and wakes the writer when an ACK
// is due.
func (s *Session) consumedLocked(n uint64) {
	s.consumed += n
	if s.consumed <= s.ackSent {
		return
	}
	if s.ackPendingSince.IsZero() {
		s.ackPendingSince = time.Now()
		s.broadcastLocked()
	} else if s.consumed-s.ackSent > s.ackThreshold {
		s.broadcastLocked()
	}
}

// WriteTo copies received data to w until the session ends; a normal end
// returns nil. It avoids a copy buffer per connection, and writes several
// queued messages with one system call when w is a TCP connection.
func (s *Session) WriteTo(w io.Writer) (int64, error) { return s.writeTo(w, nil) }

// writeBatch bounds how many received messages one write may carry.
const writeBatch = 16

func (s *Session) writeTo(w io.Writer, count *atomic.Int64) (int64, error) {
	var total int64
	var chunks []recvChunk
	var bufs [][]byte
	for {
		s.mu.Lock()
		for len(s.recvQ) == 0 && s.err == nil && !s.closed {
			dl := s.readDL.wait()
			select {
			case <-dl:
				s.mu.Unlock()
				return total, os.ErrDeadlineExceeded
			default:
			}
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-dl:
			}
			s.mu.Lock()
		}
		if s.closed {
			s.mu.Unlock()
			return total, net.ErrClosed
		}
		if len(s.recvQ) == 0 {
			err := s.err
			s.mu.Unlock()
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		k := min(len(s.recvQ), writeBatch)
		chunks = append(chunks[:0], s.recvQ[:k]...)
		clear(s.recvQ[:k])
		s.recvQ = s.recvQ[k:]
		s.mu.Unlock()

		bufs = bufs[:0]
		for _, c := range chunks {
			bufs = append(bufs, c.data)
		}
		nb := net.Buffers(bufs)
		n, err := nb.WriteTo(w)
		for i, c := range chunks {
			if c.buf != nil {
				msgPool.Put(c.buf)
			}
			chunks[i] = recvChunk{}
		}
		clear(bufs)
		total += n
		if count != nil {
			count.Add(n)
		}
		s.mu.Lock()
		s.consumedLocked(uint64(n))
		s.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
}

// room returns the free part of the fill buffer, at most the send buffer
// limit (a chunk must fit in it), taking a new buffer when little is left.
// Called with fillMu held.
func (s *Session) room() []byte {
	if s.fill == nil || len(s.fill.b)-s.fillUsed < minFill {
		s.retireFill()
		if s.fillBig {
			s.fill = bigSendPool.Get().(*sendBuf)
		} else {
			s.fill = smallSendPool.Get().(*sendBuf)
		}
		s.mu.Lock()
		s.fill.refs = 1
		s.mu.Unlock()
		s.fillUsed = 0
	}
	r := s.fill.b[s.fillUsed:]
	return r[:min(uint64(len(r)), s.sendLimit)]
}

// retireFill drops the filler's reference to its buffer. Called with
// fillMu held.
func (s *Session) retireFill() {
	if s.fill == nil {
		return
	}
	s.mu.Lock()
	s.unrefLocked(s.fill)
	s.mu.Unlock()
	s.fill = nil
}

// queueFilled queues the n bytes just put in room r.
func (s *Session) queueFilled(r []byte, n int) error {
	s.fillBig = n == len(r)
	s.fillUsed += n
	return s.enqueue(sendChunk{data: r[:n:n], buf: s.fill})
}

// Write queues p for sending. It blocks while the unacknowledged data would
// exceed the send buffer limit.
func (s *Session) Write(p []byte) (int, error) {
	s.fillMu.Lock()
	defer s.fillMu.Unlock()
	total := 0
	for len(p) > 0 {
		r := s.room()
		n := copy(r, p)
		if err := s.queueFilled(r, n); err != nil {
			return total, err
		}
		total += n
		p = p[n:]
	}
	return total, nil
}

// ReadFrom sends everything read from r until r's EOF. Reads land straight
// in the send buffer: once the data comes in bulk, 32 DATA messages per read
// system call.
func (s *Session) ReadFrom(r io.Reader) (int64, error) {
	s.fillMu.Lock()
	defer s.fillMu.Unlock()
	var total int64
	for {
		room := s.room()
		n, err := r.Read(room)
		if n > 0 {
			if werr := s.queueFilled(room, n); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (s *Session) enqueue(c sendChunk) error {
	n := uint64(len(c.data))
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return net.ErrClosed
		}
		if s.err != nil {
			if s.err == io.EOF {
				return fmt.Errorf("the relay ended the session to %s: %w", s.t, io.ErrClosedPipe)
			}
			return s.err
		}
		dl := s.writeDL.wait()
		select {
		case <-dl:
			return os.ErrDeadlineExceeded
		default:
		}
		if s.written-s.serverAck+n <= s.sendLimit {
			break
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-dl:
		}
		s.mu.Lock()
	}
	c.off = s.written
	c.buf.refs++
	s.sendQ = append(s.sendQ, c)
	s.written += n
	s.broadcastLocked()
	return nil
}

// Close sends what is queued (waiting up to the close timeout for the relay
// to acknowledge it), closes the WebSocket with 1000 and releases the
// session. Its error says how many written bytes the relay never
// acknowledged, which may not have reached the VM. It is idempotent (later
// calls return nil).
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	s.broadcastLocked()
	timer := time.NewTimer(s.closeTimeout)
	defer timer.Stop()
flush:
	for s.serverAck < s.written && s.err == nil {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			s.log.Info("closing with unacknowledged data", "bytes", s.written-s.serverAck)
			break flush
		}
	}
	lost := s.written - s.serverAck
	s.mu.Unlock()
	s.cancel()
	<-s.done
	s.mu.Lock()
	for len(s.recvQ) > 0 {
		s.popRecvLocked()
	}
	s.sendQ = nil
	s.mu.Unlock()
	if lost > 0 {
		return fmt.Errorf("closed the tunnel to %s with %d written bytes the relay never acknowledged: they may not have reached the VM", s.t, lost)
	}
	return nil
}

// run owns the WebSocket: it serves one connection at a time and resumes
// after drops until the session ends.
func (s *Session) run(conn *websocket.Conn) {
	defer close(s.done)
	for {
		err := s.serve(conn)
		if s.ctx.Err() != nil {
			s.fail(net.ErrClosed)
			return
		}
		var kind closeKind
		conn, kind, err = s.resume(err)
		switch kind {
		case closeEndOfStream:
			s.log.Debug("relay session ended", "reason", err)
			s.fail(io.EOF)
			return
		case closeFatal:
			s.log.Info("relay session failed", "error", err)
			s.fail(err)
			return
		}
	}
}

// classify says whether err ends, kills or interrupts the session.
func classify(err error) closeKind {
	var ce *CloseError
	var he *HandshakeError
	switch {
	case errors.As(err, &ce):
		return classifyClose(ce.Code)
	case errors.As(err, &he):
		if he.Status == 401 || he.Status == 408 || he.Status == 429 || he.Status >= 500 {
			return closeResumable
		}
		return closeFatal
	case errors.Is(err, ErrProtocol):
		return closeFatal
	}
	return closeResumable
}

// resume reconnects after err with gcloud's backoff. It returns the new
// connection, or the kind and error that end the session.
func (s *Session) resume(err error) (*websocket.Conn, closeKind, error) {
	start := time.Now()
	maxTime := durOr(s.d.MaxReconnectTime, DefaultMaxReconnectTime)
	backoff := s.d.Backoff
	if backoff == nil {
		backoff = gcloudBackoff
	}
	for attempt := 0; ; attempt++ {
		if kind := classify(err); kind != closeResumable {
			return nil, kind, err
		}
		if attempt > 0 {
			if time.Since(start) >= maxTime {
				return nil, closeFatal, fmt.Errorf("%w: could not resume the tunnel to %s within %v: %w", ErrSessionLost, s.t, maxTime, err)
			}
			wait := backoff(attempt)
			s.log.Debug("waiting before reconnecting", "attempt", attempt, "wait", wait, "error", err)
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return nil, closeFatal, net.ErrClosed
			}
		} else {
			s.log.Info("relay connection lost; resuming", "error", err)
		}
		var conn *websocket.Conn
		conn, err = s.reconnectOnce()
		if err == nil {
			s.reconnects.Add(1)
			s.log.Info("relay session resumed", "attempt", attempt+1)
			return conn, closeResumable, nil
		}
		if s.ctx.Err() != nil {
			return nil, closeFatal, net.ErrClosed
		}
	}
}

func (s *Session) reconnectOnce() (*websocket.Conn, error) {
	s.mu.Lock()
	sid, ack := s.sid, s.received
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, durOr(s.d.ConnectTimeout, DefaultConnectTimeout))
	defer cancel()
	conn, err := s.d.open(ctx, s.t, s.d.reconnectURL(s.t, sid, ack))
	if err != nil {
		return nil, err
	}
	f, err := s.d.first(ctx, conn, s.t, TagReconnectSuccessAck)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Ack < s.serverAck {
		conn.Close()
		return nil, fmt.Errorf("%w: the relay resumed at byte %d after acknowledging %d", ErrProtocol, f.Ack, s.serverAck)
	}
	if f.Ack > s.transmitted {
		conn.Close()
		return nil, fmt.Errorf("%w: the relay resumed at byte %d but only %d were sent", ErrProtocol, f.Ack, s.transmitted)
	}
	s.ackLocked(f.Ack)
	s.transmitted = f.Ack
	s.ackSent = max(s.ackSent, ack)
	if s.consumed <= s.ackSent {
		s.ackPendingSince = time.Time{}
	}
	s.broadcastLocked()
	return conn, nil
}

// ackLocked drops sent data the relay acknowledged.
func (s *Session) ackLocked(n uint64) {
	s.serverAck = n
	i := 0
	for i < len(s.sendQ) && s.sendQ[i].end() <= n {
		s.unrefLocked(s.sendQ[i].buf)
		s.sendQ[i] = sendChunk{}
		i++
	}
	s.sendQ = s.sendQ[i:]
}

// serve runs one WebSocket until it fails or the session is closed. The
// writer runs on the caller's goroutine, to keep idle sessions small.
func (s *Session) serve(conn *websocket.Conn) error {
	dead := make(chan struct{})
	var rerr error
	go func() {
		rerr = s.readLoop(conn)
		close(dead)
	}()
	werr := s.writeLoop(conn, dead)
	if werr != nil {
		// A write usually fails because the relay closed (gorilla refuses
		// writes once the close handshake began): give the reader a moment
		// to return the close code, which decides between resume and end.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		<-dead
	}
	conn.Close()
	<-dead
	var ce *CloseError
	if errors.As(rerr, &ce) || errors.Is(rerr, ErrProtocol) {
		return rerr
	}
	if werr != nil {
		return werr
	}
	return rerr
}

func (s *Session) readLoop(conn *websocket.Conn) error {
	for {
		mt, r, err := conn.NextReader()
		if err != nil {
			return wsError(err, s.t)
		}
		if mt != websocket.BinaryMessage {
			return fmt.Errorf("%w: %w", ErrProtocol, errNotBinary)
		}
		bp := msgPool.Get().(*[]byte)
		n, err := readAll(r, *bp)
		if err != nil {
			msgPool.Put(bp)
			return wsError(err, s.t)
		}
		f, err := Decode((*bp)[:n])
		if err != nil {
			msgPool.Put(bp)
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if f.Tag != TagData {
			msgPool.Put(bp) // nothing below keeps a reference into it
		}
		switch {
		case f.Tag == TagData:
			c := recvChunk{buf: bp, data: f.Data}
			if len(f.Data) < smallCopy {
				c = recvChunk{data: append([]byte(nil), f.Data...)}
				msgPool.Put(bp)
			}
			s.mu.Lock()
			// Only a reader waiting for data needs waking, and readers
			// take everything queued: wake them when the queue was empty,
			// not for every message (each wake-up is a system call or two).
			if len(s.recvQ) == 0 {
				s.broadcastLocked()
			}
			s.recvQ = append(s.recvQ, c)
			s.received += uint64(len(c.data))
			s.mu.Unlock()
		case f.Tag == TagAck:
			s.mu.Lock()
			switch {
			case f.Ack < s.serverAck:
				err = fmt.Errorf("%w: out-of-order ACK %d after %d", ErrProtocol, f.Ack, s.serverAck)
			case f.Ack > s.transmitted:
				err = fmt.Errorf("%w: ACK %d is beyond the %d bytes sent", ErrProtocol, f.Ack, s.transmitted)
			default:
				s.ackLocked(f.Ack)
				s.broadcastLocked()
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
		case f.Tag == TagConnectSuccessSID || f.Tag == TagReconnectSuccessAck:
			return fmt.Errorf("%w: a second session message (tag 0x%04x)", ErrProtocol, f.Tag)
		case f.Tag == TagLongClose:
			s.mu.Lock()
			s.longClose = fmt.Sprintf("%d: %s", f.Code, f.Reason)
			s.mu.Unlock()
			s.log.Debug("relay sent LONG_CLOSE", "code", f.Code, "reason", f.Reason)
		default:
			s.log.Debug("ignoring unknown relay tag", "tag", f.Tag)
		}
	}
}

// writeLoop sends queued data and ACKs on conn until dead is closed or the
// session is closed (then it says goodbye with 1000). While more is queued
// it gathers messages into one TCP write; it writes out before it waits, so
// nothing sits in the buffer while the queue is empty.
func (s *Session) writeLoop(conn *websocket.Conn, dead <-chan struct{}) error {
	var timer *time.Timer
	bc := wsbatch.Of(conn)
	// Without TLS between, DATA frames go straight into the batch.
	direct := bc.FramesFor(conn)
	held := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if held {
			bc.Abandon()
		}
	}()
	var ackBuf [10]byte
	var hdr [6]byte
	var frames [][]byte
	for {
		var ack []byte
		frames = frames[:0]
		s.mu.Lock()
		for {
			if s.ctx.Err() != nil {
				s.mu.Unlock()
				if held {
					held = false
					if err := bc.Flush(); err != nil {
						return err
					}
				}
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
				conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				return nil
			}
			pending := s.consumed > s.ackSent
			var idleLeft time.Duration
			if pending {
				idleLeft = s.ackIdle - time.Since(s.ackPendingSince)
			}
			if pending && (s.consumed-s.ackSent > s.ackThreshold || idleLeft <= 0) {
				ack = AppendAck(ackBuf[:0], s.consumed)
				s.ackSent = s.consumed
				s.ackPendingSince = time.Time{}
			}
			for size := 0; s.transmitted < s.written && size < wsbatch.Limit; {
				p := s.nextFrameLocked()
				frames = append(frames, p)
				size += len(p)
			}
			if ack != nil || len(frames) > 0 {
				s.sending = len(frames) > 0
				break
			}
			if held {
				// Nothing more to send: write out what is gathered, then
				// look again before waiting.
				s.mu.Unlock()
				held = false
				if err := bc.Flush(); err != nil {
					return err
				}
				s.mu.Lock()
				continue
			}
			var tc <-chan time.Time
			if pending {
				if timer == nil {
					timer = time.NewTimer(idleLeft)
				} else {
					timer.Reset(idleLeft)
				}
				tc = timer.C
			}
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-tc:
			case <-dead:
				return nil
			case <-s.ctx.Done():
			}
			s.mu.Lock()
		}
		s.mu.Unlock()
		msgs := len(frames)
		if ack != nil {
			msgs++
		}
		if bc != nil && !held && (msgs > 1 || direct) {
			bc.Hold()
			held = true
		}
		var err error
		if ack != nil {
			err = conn.WriteMessage(websocket.BinaryMessage, ack)
		}
		for _, p := range frames {
			if err != nil {
				break
			}
			if direct {
				err = bc.WriteFrame(AppendDataHeader(hdr[:0], len(p)), p, true)
			} else {
				err = writeData(conn, hdr[:0], p)
			}
		}
		if len(frames) > 0 {
			// The WebSocket library has copied the payloads.
			s.mu.Lock()
			s.sending = false
			for i, b := range s.freeLater {
				putSendBuf(b)
				s.freeLater[i] = nil
			}
			s.freeLater = s.freeLater[:0]
			s.mu.Unlock()
			clear(frames)
		}
		if err != nil {
			return err
		}
	}
}

// writeData sends one DATA message without assembling it first.
func writeData(conn *websocket.Conn, hdr, p []byte) error {
	w, err := conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	// The write buffer holds a whole message: it goes out as one frame.
	if _, err := w.Write(AppendDataHeader(hdr, len(p))); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

// nextFrameLocked returns the payload of the DATA message starting at
// s.transmitted and advances it. After a resume the first message may start
// inside a chunk (the relay acknowledged part of it).
func (s *Session) nextFrameLocked() []byte {
	q := s.sendQ
	i := sort.Search(len(q), func(i int) bool { return q[i].end() > s.transmitted })
	c := q[i]
	p := c.data[s.transmitted-c.off:]
	if len(p) > MaxDataPayload {
		p = p[:MaxDataPayload]
	}
	s.transmitted += uint64(len(p))
	return p
}

// deadline is a settable point in time that closes a channel when reached.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func newDeadline() deadline { return deadline{ch: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	// A fresh channel each time, so a timer that already fired cannot
	// close the new one; waiters are woken by the caller and re-read it.
	ch := make(chan struct{})
	d.ch = ch
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(ch)
		return
	}
	d.timer = time.AfterFunc(wait, func() { close(ch) })
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

var _ net.Conn = (*Session)(nil)
