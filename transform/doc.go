// Package transform holds PCM transforms: sample encoding conversion, gain,
// channel mixing, a band-limited resampler and the filters of Lavalink's
// set. Each is a catcher.Transform
// (satisfied structurally), so that inside a Catcher its output is computed
// once, however many readers there are; catcher.Chain composes them and
// catcher.NewTransformReader runs one without a cache.
//
//	f32 := transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}
//	toFloat, _ := transform.NewConvert(transform.Format{Rate: 44100, Channels: 2}, transform.F32LE)
//	resample, _ := transform.NewResampler(f32, 48000, transform.High)
//	to16, _ := transform.NewConvert(resample.Out(), transform.S16LE, transform.WithDither(1))
//	cache := catcher.New(decoded, catcher.WithTransform(catcher.Chain(toFloat, resample, to16)))
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
//
// # Resampling
//
// The Resampler converts any rate to any other (up to MaxRatio either way)
// with a polyphase windowed-sinc filter computed in float32 (in AVX2 and
// FMA instructions on amd64 machines that have them). Its output is
// aligned with its input (frame k is the input's value at time k/outRate,
// the filter's delay compensated) and exactly ceil(n*outRate/inRate) frames
// long for n input frames, the filter's tail flushed at the end.
//
// Each Quality is a Kaiser-windowed sinc whose -6 dB point is the lower of
// the two Nyquist frequencies, so that its transition band straddles it:
// passband up to pass, rejection from stop (as fractions of that Nyquist
// frequency). Only input between pass and Nyquist can leave an alias, and it
// lands between pass and Nyquist too, above the passband (above 20 kHz for
// High at 44.1 kHz). When downsampling the filter is longer by the ratio
// (taps per phase = taps / ratio), so that its bands keep their place
// relative to the output's Nyquist frequency.
//
// The figures, measured by the package's tests on float output (a 16-bit
// output would cap them near 98 dB): ripple is the largest gain error of
// sines from 20 Hz to the pass edge, 44.1 to 48 kHz; rejection is the
// smallest attenuation of sines from the stop edge to 24 kHz (every 50 Hz),
// 48 to 16 kHz, where they would alias; SNR is that of a 1 kHz sine, 44.1
// to 48 kHz, against the ideal sine at the output times. Speed is 44.1 to
// 48 kHz stereo in times real time on one core of a 2-core virtual machine
// ("Oxide Virtual Turin-like Processor"), Go 1.26, float or 16-bit alike
// (stereo float from an exact bank, a track's 44.1 to 48 kHz, has since
// taken a path of its own, 1.5 times as fast for High),
// the filter's sums in AVX2 and FMA instructions (the Go code that other
// machines run, as do builds with the tag purego, executes 2.6 times as
// many instructions for High). bench/README.md has the runs, and soxr
// timed on the same input: 434, 382 and 345 times real time at its -m, -h
// and -v settings (95% band, 100, 125 and 175 dB, no aliasing), 572, 484
// and 426 net of sox's own input and output. Linear interpolation, the
// naive resampler, is measured beside the presets for reference.
//
//	preset   taps  pass         ripple      stop   rejection  SNR 1 kHz  x-realtime
//	Fast       16  0.70 (15.4)  0.006 dB    1.24    62 dB      72 dB       1370
//	Medium     40  0.85 (18.7)  0.0004 dB   1.15    91 dB      96 dB       1240
//	High       76  0.907 (20)   0.00005 dB  1.09   101 dB     128 dB       1020
//	linear      2  0.907 (20)   6.3 dB      1.10     0 dB      54 dB       4450
//
// (pass in kHz at 44.1 kHz.) Ratios that reduce (by their greatest common
// divisor) to more phases than a 2 MiB filter bank holds, such as 44100 to
// 48001, interpolate linearly between the phases of a finer bank; the tests
// hold such a ratio to the same SNR as the exact ones.
//
// # Filters
//
// The filters are those of Lavalink (as lavadsp and lavaplayer compute
// them), on F32LE PCM, mono or stereo, at the format's rate: volume (with
// a peak limiter, so that gains above 1 do not clip), a 15-band equalizer,
// timescale (speed, pitch and rate, independently), tremolo, vibrato,
// rotation, karaoke, distortion, channel mix and low-pass. Each has a
// configuration struct, validated by its constructor (an error wrapping
// ErrFilterParam names the parameter, its value and its range), and its
// parameters mean what Lavalink's do: an equalizer band's gain g
// multiplies its centre by 1+4g, so that -0.25 mutes it and 0.25 doubles
// it. Each doc comment gives the formula. NewVolume, NewEqualizer and the
// others return a Filter, which writes a frame for each frame it reads;
// NewTimescale returns a Timescale, whose output is longer or shorter
// (OutFrames).
//
// A Chain describes a set of filters, applied in Lavalink's order (low-pass,
// channel mix, rotation, distortion, vibrato, tremolo, timescale, karaoke,
// equalizer, volume). Its String is a canonical encoding, one string for
// each set of filters whatever its spelling (defaults left out, fixed
// order, numbers in one form), which ParseChain reads back; NewChainFilter
// makes the transform that applies it. The encoding is stable: it is what
// names a filtered variant of a track.
//
// Input samples are read with NaN as 0 and clipped to full scale; the
// filters compute in float (the recursive ones in float64) and their
// output is clipped to full scale. Rotation, karaoke and channel mix pass
// mono unchanged. The filters are streaming (state carries from call to
// call, and output does not depend on how the input is cut into reads)
// and allocate nothing once made.
//
// The timescale is a time-stretch by WSOLA (windows of 40 ms every 20 ms,
// each placed within 10 ms of its nominal place where it best continues
// the one before) followed by the Resampler; on a pure tone its measured
// pitch and tempo are within 0.1% of the settings', at every setting the
// tests try. bench/README.md has each filter's cost.
package transform
