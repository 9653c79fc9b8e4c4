//go:build cgo

package pipeline

import (
	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
)

// newEncoder returns the encoder of a track's settings, checked.
func newEncoder(cfg trackConfig) (encoder, error) {
	return libopus.NewEncoder(pcmFormat(cfg.channels), libopus.WithBitrate(cfg.bitrate),
		libopus.WithFrameDuration(cfg.frame), libopus.WithApplication(cfg.app), libopus.WithCBR(cfg.cbr))
}

// newDecoder returns a decoder of a framed Opus stream to PCM of the
// given channels at 48 kHz: it drops the first skip samples of its output
// and, if length >= 0, stops after length samples.
func newDecoder(channels int, skip, length int64) (catcher.Transform, error) {
	opts := []libopus.DecoderOption{libopus.WithPreSkip(skip)}
	if length >= 0 {
		opts = append(opts, libopus.WithLength(length))
	}
	return libopus.NewDecoder(channels, opts...)
}

// newPacketDecoder returns a decoder of packets one at a time to the
// given channels.
func newPacketDecoder(channels int) (packetDecoder, error) {
	return libopus.NewPacketDecoder(channels)
}
