package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Relay message tags (iap-relay-protocol section 2).
const (
	TagConnectSuccessSID   uint16 = 0x0001
	TagReconnectSuccessAck uint16 = 0x0002
	TagData                uint16 = 0x0004
	TagAck                 uint16 = 0x0007
	TagLongClose           uint16 = 0x000A
)

// MaxDataPayload is the largest DATA payload either side may send.
const MaxDataPayload = 16384

// MaxFrameSize is the largest relay message a peer may send: a DATA header plus
// the largest payload. Anything bigger is rejected before it is parsed.
const MaxFrameSize = 6 + MaxDataPayload

// maxSIDLen bounds the session ID so a malformed frame cannot claim gigabytes.
const maxSIDLen = 1024

// Frame is one decoded relay message. Only the fields of its Tag are set.
type Frame struct {
	Tag     uint16
	SID     string // CONNECT_SUCCESS_SID
	Ack     uint64 // ACK, RECONNECT_SUCCESS_ACK
	Data    []byte // DATA: aliases the decoded buffer
	Code    uint32 // LONG_CLOSE
	Reason  string // LONG_CLOSE
	Unknown bool   // a tag this client does not know; ignore it
}

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("malformed relay message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// AppendData appends a DATA frame carrying p (1..MaxDataPayload bytes).
func AppendData(dst, p []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagData)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// AppendDataHeader appends the header of a DATA frame whose n-byte payload
// follows separately.
func AppendDataHeader(dst []byte, n int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagData)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// AppendAck appends an ACK frame.
func AppendAck(dst []byte, n uint64) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagAck)
	return binary.BigEndian.AppendUint64(dst, n)
}

// AppendConnectSuccessSID appends a CONNECT_SUCCESS_SID frame.
func AppendConnectSuccessSID(dst []byte, sid string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagConnectSuccessSID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(sid)))
	return append(dst, sid...)
}

// AppendReconnectSuccessAck appends a RECONNECT_SUCCESS_ACK frame.
func AppendReconnectSuccessAck(dst []byte, n uint64) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagReconnectSuccessAck)
	return binary.BigEndian.AppendUint64(dst, n)
}

// AppendLongClose appends a LONG_CLOSE frame.
func AppendLongClose(dst []byte, code uint32, reason string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TagLongClose)
	dst = binary.BigEndian.AppendUint32(dst, code)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(reason)))
	return append(dst, reason...)
}

// Decode parses exactly one relay message. It never allocates more than the
// input's size and rejects trailing bytes, zero-length or oversized DATA and
// non-printable SIDs.
func Decode(b []byte) (Frame, error) {
	if len(b) > MaxFrameSize+maxSIDLen {
		return Frame{}, malformed("message of %d bytes exceeds the limit", len(b))
	}
	if len(b) < 2 {
		return Frame{}, malformed("message of %d bytes has no tag", len(b))
	}
	f := Frame{Tag: binary.BigEndian.Uint16(b)}
	body := b[2:]
	switch f.Tag {
	case TagConnectSuccessSID:
		n, rest, err := lengthPrefixed(body, maxSIDLen, "SID")
		if err != nil {
			return Frame{}, err
		}
		if n == 0 {
			return Frame{}, malformed("empty SID")
		}
		for _, c := range rest {
			if c < 0x21 || c > 0x7e {
				return Frame{}, malformed("SID holds a non-printable byte 0x%02x", c)
			}
		}
		f.SID = string(rest)
	case TagReconnectSuccessAck, TagAck:
		if len(body) != 8 {
			return Frame{}, malformed("tag 0x%04x needs 8 bytes of ack, got %d", f.Tag, len(body))
		}
		f.Ack = binary.BigEndian.Uint64(body)
	case TagData:
		n, rest, err := lengthPrefixed(body, MaxDataPayload, "DATA")
		if err != nil {
			return Frame{}, err
		}
		if n == 0 {
			return Frame{}, malformed("DATA with zero length")
		}
		f.Data = rest
	case TagLongClose:
		if len(body) < 8 {
			return Frame{}, malformed("LONG_CLOSE of %d bytes is too short", len(body))
		}
		f.Code = binary.BigEndian.Uint32(body)
		_, rest, err := lengthPrefixed(body[4:], maxSIDLen, "LONG_CLOSE reason")
		if err != nil {
			return Frame{}, err
		}
		f.Reason = string(rest)
	default:
		f.Unknown = true
	}
	return f, nil
}

// lengthPrefixed reads a uint32 length and exactly that many following bytes.
func lengthPrefixed(b []byte, limit int, what string) (int, []byte, error) {
	if len(b) < 4 {
		return 0, nil, malformed("%s length missing", what)
	}
	n := binary.BigEndian.Uint32(b)
	if n > uint32(limit) {
		return 0, nil, malformed("%s length %d exceeds %d", what, n, limit)
	}
	rest := b[4:]
	if uint32(len(rest)) != n {
		return 0, nil, malformed("%s length %d but %d bytes follow", what, n, len(rest))
	}
	return int(n), rest, nil
}
