// Package transform holds PCM transforms: sample encoding conversion, gain
// and channel mixing. Each is a catcher.Transform (satisfied structurally),
// so that inside a Catcher its output is computed once, however many readers
// there are; catcher.Chain composes them and catcher.NewTransformReader runs
// one without a cache.
//
//	c, _ := transform.NewConvert(transform.CD, transform.F32LE)
//	cache := catcher.New(decoded, catcher.WithTransform(c))
//
// # Formats
//
// A Format is a value describing PCM: rate, channels and Encoding (S16LE,
// S24LE packed in 3 bytes, F32LE), interleaved by frame, with helpers
// between frames, bytes and durations. Integer samples stand for v/32768 or
// v/8388608 of full scale; float samples for themselves, full scale being
// [-1, 1].
//
// # Contract
//
// Every transform here reads whole frames and writes whole frames: its
// MinSpace is one output frame, so a Catcher never splits a frame across
// chunks, and its output does not depend on the sizes of the reads from its
// source or of the dst it is given. Input that ends inside a frame ends the
// stream with an error wrapping ErrPartialFrame, after the output of the
// whole frames; a source error ends it at once. No input bytes make a
// transform panic: float NaN and infinities are clipped or zeroed as each
// transform documents. Once running, a call allocates nothing: buffers are
// sized at construction. A transform is used by one goroutine at a time.
package transform
