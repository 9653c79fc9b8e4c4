package libopus

import (
	"fmt"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"layeh.com/gopus"
)

// PacketDecoder decodes Opus packets one at a time, as a receiver of RTP
// does, to interleaved 16-bit PCM at 48 kHz. Its state runs from packet to
// packet, so after a gap (a seek, a loss) the first packets decode with
// the previous audio's state: about 100 ms of pre-roll. It is not safe for
// concurrent use.
type PacketDecoder struct {
	dec *gopus.Decoder
	ch  int
}

// NewPacketDecoder returns a decoder to the given number of channels (1 or
// 2, whatever the packets code). Errors wrap transform.ErrFormat.
func NewPacketDecoder(channels int) (*PacketDecoder, error) {
	dec, err := newGopusDecoder(channels)
	if err != nil {
		return nil, err
	}
	return &PacketDecoder{dec: dec, ch: channels}, nil
}

// Decode decodes one packet and returns its samples, interleaved (a new
// slice, the caller's to keep). A packet that libopus refuses, or whose
// table of contents is invalid, is an error wrapping
// opus.ErrCorruptPacket, and its duration is not decoded: call Conceal to
// fill it.
func (p *PacketDecoder) Decode(packet []byte) ([]int16, error) {
	n, err := opus.PacketSamples(packet)
	if err != nil {
		return nil, err
	}
	pcm, err := decodeFenced(p.dec, packet, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", opus.ErrCorruptPacket, err)
	}
	if int64(len(pcm)) != n*int64(p.ch) {
		return nil, fmt.Errorf("%w: decoded %d samples of %d", opus.ErrCorruptPacket, len(pcm)/p.ch, n)
	}
	return pcm, nil
}

// Conceal returns samples of libopus's loss concealment for a lost
// stretch (at most 120 ms a call), interleaved.
func (p *PacketDecoder) Conceal(samples int) ([]int16, error) {
	if samples <= 0 || samples > 5760 {
		return nil, fmt.Errorf("libopus: conceal %d samples: want 1 to 5760", samples)
	}
	pcm, err := decodeFenced(p.dec, nil, int64(samples))
	if err != nil {
		return nil, fmt.Errorf("libopus: conceal: %w", err)
	}
	return pcm, nil
}

// Channels returns the number of channels decoded to.
func (p *PacketDecoder) Channels() int { return p.ch }
