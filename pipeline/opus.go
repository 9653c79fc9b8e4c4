package pipeline

import (
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The Opus encoder and decoder come from package libopus, through cgo:
// opus_cgo.go makes them, and opus_nocgo.go, in a build without cgo,
// returns ErrNoLibopus instead. This file and the rest of the package
// name neither, so that the package builds with CGO_ENABLED=0 and plays
// Ogg Opus, which is framed as it is.

// encoder is a track's Opus encoder: the packets of the PCM it reads.
type encoder interface {
	framed.PacketSource
	// MaxPacketSize is the largest packet it makes, in bytes.
	MaxPacketSize() int
	// PreSkip is its lookahead at 48 kHz: how far its output lags its
	// input.
	PreSkip() int64
}

// packetDecoder decodes Opus packets one at a time, its state running
// from packet to packet, as a receiver's does.
type packetDecoder interface {
	// Decode returns the packet's samples, interleaved 16-bit.
	Decode(packet []byte) ([]int16, error)
}

// pcmFormat is the PCM an Opus encoder takes and a decoder gives: 48 kHz
// s16le with the given number of channels.
func pcmFormat(channels int) transform.Format {
	return transform.Format{Rate: opus.SampleRate, Channels: channels, Encoding: transform.S16LE}
}
