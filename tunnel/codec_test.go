package tunnel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The reference's test vectors, both ways.
func TestCodecVectors(t *testing.T) {
	cases := []struct {
		name  string
		enc   []byte
		wire  string
		check func(Frame) bool
	}{
		{"ack 65534", AppendAck(nil, 65534), "00 07 00 00 00 00 00 00 FF FE", func(f Frame) bool { return f.Tag == TagAck && f.Ack == 65534 }},
		{"ack max", AppendAck(nil, 1<<64-1), "00 07 FF FF FF FF FF FF FF FF", func(f Frame) bool { return f.Tag == TagAck && f.Ack == 1<<64-1 }},
		{"data", AppendData(nil, []byte{0x99, 'a', 'b', 'c', 'd', 'e'}), "00 04 00 00 00 06 99 61 62 63 64 65", func(f Frame) bool {
			return f.Tag == TagData && bytes.Equal(f.Data, []byte{0x99, 'a', 'b', 'c', 'd', 'e'})
		}},
		{"sid", AppendConnectSuccessSID(nil, "z"), "00 01 00 00 00 01 7A", func(f Frame) bool { return f.Tag == TagConnectSuccessSID && f.SID == "z" }},
		{"reconnect ack", AppendReconnectSuccessAck(nil, 3029), "00 02 00 00 00 00 00 00 0B D5", func(f Frame) bool { return f.Tag == TagReconnectSuccessAck && f.Ack == 3029 }},
		{"long close", AppendLongClose(nil, 4003, "x"), "00 0A 00 00 0F A3 00 00 00 01 78", func(f Frame) bool { return f.Tag == TagLongClose && f.Code == 4003 && f.Reason == "x" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.wire)
			if !bytes.Equal(c.enc, want) {
				t.Fatalf("encoded % X, want % X", c.enc, want)
			}
			f, err := Decode(want)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !c.check(f) {
				t.Fatalf("Decode gave %+v", f)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]string{
		"empty":             "",
		"one byte":          "00",
		"ack short":         "00 07 00 00 00 00 00 00 FF",
		"ack long":          "00 07 00 00 00 00 00 00 00 FF FE",
		"data zero":         "00 04 00 00 00 00",
		"data short":        "00 04 00 00 00 06 99 61",
		"data trailing":     "00 04 00 00 00 01 99 61",
		"data huge length":  "00 04 FF FF FF FF 00",
		"data over 16384":   "00 04 00 00 40 01 00",
		"sid empty":         "00 01 00 00 00 00",
		"sid non-printable": "00 01 00 00 00 01 0A",
		"sid huge":          "00 01 7F FF FF FF 41",
		"long close short":  "00 0A 00 00 0F A3",
	}
	for name, wire := range cases {
		if _, err := Decode(unhex(t, wire)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode error = %v, want ErrMalformed", name, err)
		}
	}
	big := AppendData(nil, make([]byte, MaxDataPayload))
	if _, err := Decode(big); err != nil {
		t.Errorf("largest DATA rejected: %v", err)
	}
}

func TestDecodeUnknownTagIgnored(t *testing.T) {
	f, err := Decode(unhex(t, "00 03 01 02"))
	if err != nil || !f.Unknown || f.Tag != 3 {
		t.Fatalf("Decode unknown tag = %+v, %v", f, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"00070000000000000000FFFE", "000400000006996162636465", "0001000000017A", "00020000000000000BD5", "000A00000FA30000000178", "0004FFFFFFFF"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// A frame that decodes must re-encode to the same bytes.
		var re []byte
		switch fr.Tag {
		case TagData:
			re = AppendData(nil, fr.Data)
		case TagAck:
			re = AppendAck(nil, fr.Ack)
		case TagReconnectSuccessAck:
			re = AppendReconnectSuccessAck(nil, fr.Ack)
		case TagConnectSuccessSID:
			re = AppendConnectSuccessSID(nil, fr.SID)
		case TagLongClose:
			re = AppendLongClose(nil, fr.Code, fr.Reason)
		default:
			return
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip % X -> % X", b, re)
		}
	})
}

func TestAppendDataHeader(t *testing.T) {
	for _, p := range [][]byte{{}, []byte("abc"), make([]byte, MaxDataPayload)} {
		got := append(AppendDataHeader(nil, len(p)), p...)
		if !bytes.Equal(got, AppendData(nil, p)) {
			t.Fatalf("header for %d bytes differs from AppendData", len(p))
		}
	}
}
