package sink

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Source gives packets one at a time, as a pipeline.Player does:
// opus.ErrUnderrun when the next is not ready yet, opus.ErrPaused while
// paused, io.EOF at the end.
type Source interface {
	Next() (opus.Packet, error)
}

// FrameProvider adapts a Source to disgo's voice.OpusFrameProvider
// (ProvideOpusFrame and Close), without importing disgo. disgo calls it
// every 20 ms and takes an empty frame for silence, so it never blocks: a
// packet not ready yet, or a pause, is an empty frame. The frame returned
// is the cache's own immutable slice (disgo copies it before encrypting).
type FrameProvider struct {
	src Source
}

// NewFrameProvider returns a FrameProvider over src.
func NewFrameProvider(src Source) *FrameProvider { return &FrameProvider{src: src} }

// ProvideOpusFrame returns the next frame, nil for silence, and io.EOF at
// the end.
func (f *FrameProvider) ProvideOpusFrame() ([]byte, error) {
	pkt, err := f.src.Next()
	if notYet(err) {
		return nil, nil
	}
	return pkt.Data, err
}

// notYet reports whether err says only that src has no packet now: an
// underrun or a pause.
func notYet(err error) bool {
	return errors.Is(err, opus.ErrUnderrun) || errors.Is(err, opus.ErrPaused)
}

// Close closes the source if it is an io.Closer (a Player releases its
// track).
func (f *FrameProvider) Close() {
	if c, ok := f.src.(io.Closer); ok {
		_ = c.Close()
	}
}

// retry is how long Copy and Feed wait after an underrun or a pause: one
// frame.
const retry = 20 * time.Millisecond

// pump gives every packet of src to send until src ends (nil at io.EOF),
// send fails or ctx is done; it waits a frame after an underrun or while
// paused.
func pump(ctx context.Context, src Source, send func(opus.Packet) error) (int64, error) {
	var n int64
	t := time.NewTimer(retry)
	t.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		pkt, err := src.Next()
		switch {
		case err == nil:
			if err := send(pkt); err != nil {
				return n, err
			}
			n++
			continue
		case err == io.EOF:
			return n, nil
		case !notYet(err):
			return n, err
		}
		t.Reset(retry)
		select {
		case <-t.C:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// Copy writes every packet of src to w, one packet per Write, as arikawa's
// voice Session takes them (it paces inside Write), until src ends; it
// returns the packets written.
func Copy(ctx context.Context, w io.Writer, src Source) (int64, error) {
	return pump(ctx, src, func(p opus.Packet) error { _, err := w.Write(p.Data); return err })
}

// Feed sends every packet of src on ch, as discordgo's OpusSend takes them
// (a 20 ms ticker drains it), until src ends or ctx is done; the slices are
// the cache's own and must not be modified.
func Feed(ctx context.Context, ch chan<- []byte, src Source) (int64, error) {
	return pump(ctx, src, func(p opus.Packet) error {
		select {
		case ch <- p.Data:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
