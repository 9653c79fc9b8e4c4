//go:build !cgo

package pipeline

import (
	"fmt"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// newEncoder returns ErrNoLibopus: Opus encoding needs libopus.
func newEncoder(trackConfig) (encoder, error) {
	return nil, fmt.Errorf("%w: Opus encoding needs libopus (cgo); this program was built with CGO_ENABLED=0", ErrNoLibopus)
}

// newDecoder returns ErrNoLibopus: Opus decoding needs libopus.
func newDecoder(int, int64, int64) (catcher.Transform, error) {
	return nil, fmt.Errorf("%w: Opus decoding needs libopus (cgo); this program was built with CGO_ENABLED=0", ErrNoLibopus)
}

// newPacketDecoder returns ErrNoLibopus: Opus decoding needs libopus.
func newPacketDecoder(int) (packetDecoder, error) {
	return nil, fmt.Errorf("%w: Opus decoding needs libopus (cgo); this program was built with CGO_ENABLED=0", ErrNoLibopus)
}
