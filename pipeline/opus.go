package pipeline

import (
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The Opus encoder and decoder come from package libopus, through cgo:
// opus_cgo.go makes them, and opus_nocgo.go, in a build without cgo,
// returns ErrNoEncoder instead. This file and the rest of the package
// name neither, so that the package builds with CGO_ENABLED=0 and plays
// Ogg Opus, which is framed as it is.

// encoder is a track's Opus encoder: the packets of the PCM it reads.
type encoder interface {
	framed.PacketSource
	// MaxPacketSize is the largest packet it makes, in bytes.
	MaxPacketSize() int
}

// pcmFormat is the PCM an Opus encoder takes and a decoder gives: 48 kHz
// s16le with the given number of channels.
func pcmFormat(channels int) transform.Format {
	return transform.Format{Rate: opus.SampleRate, Channels: channels, Encoding: transform.S16LE}
}
