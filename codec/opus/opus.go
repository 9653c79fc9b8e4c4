// Package opus knows Opus packets without decoding them (RFC 6716,
// section 3): the TOC byte, the framing of one to 48 frames, durations,
// limits, and the silence frame that senders put at the end of a stream.
// It has no cgo: encoding and decoding are in package libopus.
//
// Durations are in samples per channel at 48 kHz, the rate every Opus
// stream is timed in whatever its coded bandwidth, as int64.
package opus

import "time"

// SampleRate is the rate in Hz at which Opus packets are timed and decoded.
const SampleRate = 48000

// PreRoll is the decoder pre-roll of RFC 7845 (section 4.6), in samples:
// after a seek, decoding starts 80 ms earlier and that output is dropped,
// so that the decoder has converged by the target.
const PreRoll = 3840

// SilenceFrame is the Opus packet of 20 ms of silence (a CELT frame with
// no payload) that senders send five of at the end of a stream, so that the
// receiver's decoder does not interpolate into the gap. It is a string so
// that it cannot be changed: []byte(opus.SilenceFrame) is the packet.
const SilenceFrame = "\xf8\xff\xfe"

// SilenceFrames is how many silence frames end a stream (Discord's
// documentation asks for five).
const SilenceFrames = 5

// Duration is the time n samples at 48 kHz last, rounded up to the
// nanosecond, so that Samples(Duration(n)) == n.
func Duration(n int64) time.Duration {
	if n < 0 {
		return -Duration(-n)
	}
	return time.Duration(n/SampleRate)*time.Second + time.Duration((n%SampleRate*int64(time.Second)+SampleRate-1)/SampleRate)
}

// Samples is the number of whole samples at 48 kHz in d, rounded down.
func Samples(d time.Duration) int64 {
	if d < 0 {
		return -Samples(-d)
	}
	return int64(d)/int64(time.Second)*SampleRate + int64(d)%int64(time.Second)*SampleRate/int64(time.Second)
}

// Packet is one Opus packet on a player's clock, as a Player or a
// Broadcast gives it to a sender.
type Packet struct {
	// Data is the Opus packet, lent from the track's cache (valid for as
	// long as it is held; not to be modified), or SilenceFrame.
	Data []byte
	// Timestamp is the player's clock at the packet's start, in samples
	// at 48 kHz: what it has played before it, continuous across seeks,
	// loops and pauses (an RTP sender adds the time a pause lasted), and
	// the deadlines a scheduler could not serve (underruns): a jump in it
	// is a gap the receiver is to hear as one.
	Timestamp int64
	// Samples is the packet's duration.
	Samples int64
	// Position is the packet's place in the track: its first sample,
	// counted after the pre-skip (negative for the packet that holds the
	// pre-skip). Silence frames have the position they follow.
	Position int64
	// Silence marks one of the silence frames a player gives at a pause
	// or at the end, so that the receiver's decoder does not interpolate
	// into the gap.
	Silence bool
	// Seam marks a transition packet: one a player sends, in place of the
	// track's own, in the first packets after a jump (a loop, a seek, a
	// resume), encoded once per track and jump so that a receiver's
	// decoder passes the seam without a click. It holds the audio of its
	// Position, faded in from where the player was; the first packet of a
	// transition made through silence (for a track encoded by another
	// encoder, whose state cannot be followed) is a silence frame.
	Seam bool
}
