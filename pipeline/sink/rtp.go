package sink

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// HeaderSize is the size of an RTP header without CSRCs or an extension.
const HeaderSize = 12

// PayloadTypeDiscord is the payload type Discord's voice transport uses for
// Opus; WebRTC peers negotiate their own (commonly 111).
const PayloadTypeDiscord = 120

// Header is the part of an RTP header a sender sets per packet.
type Header struct {
	PayloadType uint8
	Marker      bool
	Sequence    uint16
	Timestamp   uint32
	SSRC        uint32
}

// Marshal writes h as a 12-byte RTP header (version 2, no padding, no
// extension, no CSRCs) into b, which must hold HeaderSize bytes.
func (h Header) Marshal(b []byte) {
	_ = b[HeaderSize-1]
	b[0] = 0x80
	b[1] = h.PayloadType & 0x7f
	if h.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], h.Sequence)
	binary.BigEndian.PutUint32(b[4:], h.Timestamp)
	binary.BigEndian.PutUint32(b[8:], h.SSRC)
}

// Packetizer numbers a player's packets for RTP: the sequence advances by
// one per packet sent, the timestamp by exactly each packet's samples.
// After silence frames (a pause, or the end of a track) the next sound
// packet's timestamp jumps by the wall time that passed, and carries the
// marker bit, as does the first packet; a jump in the player's own clock
// (a live player skipping ahead) is carried over the same way. Sequence and
// timestamp wrap around as RTP says. A Packetizer is used by one
// goroutine.
type Packetizer struct {
	pt   uint8
	ssrc uint32
	seq  uint16
	ts   uint32
	now  func() time.Time

	started  bool
	prev     opus.Packet // the last packet numbered, without its data
	prevWall time.Time
}

// PacketizerOption configures a Packetizer.
type PacketizerOption func(*Packetizer)

// WithPayloadType sets the payload type (default PayloadTypeDiscord).
func WithPayloadType(pt uint8) PacketizerOption {
	return func(p *Packetizer) { p.pt = pt & 0x7f }
}

// WithStart sets the first sequence number and timestamp, random by
// default as RFC 3550 asks.
func WithStart(seq uint16, ts uint32) PacketizerOption {
	return func(p *Packetizer) { p.seq, p.ts = seq, ts }
}

// WithClock sets the wall clock the timestamp follows across silence
// (default time.Now).
func WithClock(now func() time.Time) PacketizerOption {
	return func(p *Packetizer) { p.now = now }
}

// NewPacketizer returns a Packetizer for the stream ssrc.
func NewPacketizer(ssrc uint32, opts ...PacketizerOption) *Packetizer {
	var r [6]byte
	_, _ = rand.Read(r[:])
	p := &Packetizer{
		pt:   PayloadTypeDiscord,
		ssrc: ssrc,
		seq:  binary.BigEndian.Uint16(r[:]),
		ts:   binary.BigEndian.Uint32(r[2:]),
		now:  time.Now,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// SSRC returns the stream's synchronisation source.
func (p *Packetizer) SSRC() uint32 { return p.ssrc }

// Next returns the header for pkt, the next packet sent.
func (p *Packetizer) Next(pkt opus.Packet) Header {
	wall := p.now()
	h := Header{PayloadType: p.pt, SSRC: p.ssrc}
	if !p.started {
		p.started = true
		h.Marker = true
	} else {
		adv := p.prev.Samples
		if d := pkt.Timestamp - p.prev.Timestamp; d > adv {
			adv, h.Marker = d, true // the player's clock jumped
		}
		if p.prev.Silence && !pkt.Silence {
			// Sound after silence: the receiver's clock ran on meanwhile.
			if w := opus.Samples(wall.Sub(p.prevWall)); w > adv {
				adv = w
			}
			h.Marker = true
		}
		p.seq++
		p.ts += uint32(adv)
	}
	h.Sequence, h.Timestamp = p.seq, p.ts
	p.prev = opus.Packet{Timestamp: pkt.Timestamp, Samples: pkt.Samples, Silence: pkt.Silence}
	p.prevWall = wall
	return h
}
