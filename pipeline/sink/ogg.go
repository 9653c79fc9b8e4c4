package sink

import (
	"context"
	"errors"
	"io"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// errEnough ends WriteOgg's pump once the length is written.
var errEnough = errors.New("sink: length written")

// WriteOgg writes every sound packet of src to w as an Ogg Opus file with
// head (its channels and pre-skip: a track's own) and ends the stream when
// src does. length is the file's length in samples after the pre-skip:
// once the packets written hold the pre-skip and length samples, src is
// read no further, and the end is trimmed to it, so that a file cut from
// any source (a whole track, a part of it after a seek, a section looped
// without end) is exactly that long; -1 takes every packet until src
// ends, and the samples written less the pre-skip. Silence frames (a
// player's at a pause or the end) are transport, not audio, and are left
// out. It waits a frame after an underrun or while src is paused, and
// returns the packets written.
func WriteOgg(ctx context.Context, w io.Writer, src Source, head ogg.OpusHead, length int64) (int64, error) {
	ow, err := ogg.NewOpusWriter(w, head, ogg.OpusTags{Vendor: "streamcatcher"})
	if err != nil {
		return 0, err
	}
	var n, samples int64
	_, err = pump(ctx, src, func(p opus.Packet) error {
		if p.Silence {
			return nil
		}
		if err := ow.WritePacket(p.Data); err != nil {
			return err
		}
		n, samples = n+1, samples+p.Samples
		if length >= 0 && samples >= int64(head.PreSkip)+length {
			return errEnough
		}
		return nil
	})
	if err == errEnough {
		err = nil
	}
	if err != nil {
		ow.Close() // the stream ends either way; the first error is the one to report
		return n, err
	}
	if length < 0 {
		length = max(0, samples-int64(head.PreSkip))
	}
	ow.SetLength(length)
	return n, ow.Close()
}
