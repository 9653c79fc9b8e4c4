// Package framed is the store of Opus packets in a cache: the Framer, the
// one place where packets enter a catcher.Catcher (from an encoder or an Ogg
// Opus file), its Index, which maps time to packets, and the Cursor, a
// listener's position that reads packets without copying them.
//
// # The framed stream
//
// A Framer writes each packet as a record, with nothing before, between or
// after them:
//
//	offset  size  field
//	0       2     n, the packet's length in bytes: little-endian uint16,
//	              1 <= n <= opus.MaxPacketSize
//	2       n     the Opus packet, byte for byte as the encoder or the Ogg
//	              file gave it (its TOC byte first)
//
// A record never straddles two chunks of the cache (the Framer's MinSpace
// is its source's largest record), so a record can be lent as one slice
// (catcher.Catcher.View). The stream holds no timing: a packet's duration
// is in its TOC, and the pre-skip, start samples and true length are in the
// Index, which the Catcher publishes with the bytes it describes.
//
// Samples are per channel at 48 kHz, as int64, counted from the start of
// the decoded stream with the pre-skip included unless a method says
// otherwise ("position" means after the pre-skip).
package framed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// PrefixSize is the size of a record's length prefix.
const PrefixSize = 2

// ErrNotReady is returned by Cursor.Next when the next packet has not been
// cached yet (it is being encoded): the caller should try again later, or
// wait on Cursor.Ready.
var ErrNotReady = errors.New("framed: next packet not encoded yet")

// ErrCorrupt is returned, wrapped with the detail, for a framed stream
// whose length prefix is out of range.
var ErrCorrupt = errors.New("framed: corrupt record")

// PacketSource yields Opus packets for a Framer: an Opus encoder reading
// PCM, or an Ogg Opus demuxer reading pages. A source that is also a
// catcher.Stater (a demuxer's OpusHead and OpusTags) has its state
// published beside the Index (see Framer.State).
type PacketSource interface {
	// NextPacket reads what it needs from src and returns the next
	// packet, valid until the next call. It returns io.EOF (and no
	// packet) at the end of the stream, or another error. Every call
	// passes the same src.
	NextPacket(src io.Reader) ([]byte, error)

	// PreSkip is the number of samples to drop from the start of the
	// decoded stream. It is valid once NextPacket has returned a packet or
	// an error.
	PreSkip() int64

	// Length is the true length of the decoded stream in samples,
	// pre-skip excluded. It is valid once NextPacket has returned io.EOF
	// (or an error after which the source still knows it); -1 means
	// unknown (the packets' total less the pre-skip).
	Length() int64

	// MaxPacketSize is the largest packet the source yields, at most
	// opus.MaxPacketSize; it must not change. A larger packet ends the
	// stream with an error.
	MaxPacketSize() int
}

// Framer is the Transform that puts Opus packets into a cache: it takes
// packets from a PacketSource, validates each (opus.ParsePacket), writes it
// as a record and records it in its Index. It is a catcher.Transform, a
// catcher.Stater (its State is an Index, or a catcher.ChainState of the
// source's state and the Index when the source is a Stater) and a
// catcher.Sizer.
//
// A Framer is driven by one goroutine at a time (as a Transform is); the
// Index values it publishes are immutable and may be read from any
// goroutine.
type Framer struct {
	src     PacketSource
	max     int     // src.MaxPacketSize()
	window  int     // packets kept in the index at least; 0: all
	first   int     // the number of the packet at offsets[0]
	offsets []int64 // append-only; published views never see writes
	starts  []int64 // append-only
	end     int64
	samples int64
	uniform int64 // -1 until the first packet; then the common duration or 0
	last    int64 // duration of the last packet
	length  int64
	done    bool
}

// FramerOption configures a Framer.
type FramerOption func(*Framer)

// WithIndexWindow makes the Index keep only about the last n packets (at
// least n, at most 2n), for an endless stream cached in a window: its
// memory stays bounded however long the stream runs. Index.First says
// which packet it starts at. It panics if n < 1.
func WithIndexWindow(n int) FramerOption {
	if n < 1 {
		panic(fmt.Sprintf("framed: WithIndexWindow(%d)", n))
	}
	return func(f *Framer) { f.window = n }
}

// WithCapacity sizes the Index's arrays for n packets, for a stream whose
// packets are counted beforehand (a stored one): they grow by appending
// otherwise, and may hold up to twice what they use.
func WithCapacity(n int) FramerOption {
	return func(f *Framer) {
		n = max(n, 0)
		if f.window > 0 {
			n = min(n, 2*f.window)
		}
		f.offsets, f.starts = make([]int64, 0, n), make([]int64, 0, n)
	}
}

// NewFramer returns a Framer of the packets of src. It panics if src's
// MaxPacketSize is out of range (a programmer's mistake).
func NewFramer(src PacketSource, opts ...FramerOption) *Framer {
	m := src.MaxPacketSize()
	if m < 1 || m > opus.MaxPacketSize {
		panic(fmt.Sprintf("framed: %T.MaxPacketSize() = %d, want 1 to %d", src, m, opus.MaxPacketSize))
	}
	f := &Framer{src: src, max: m, uniform: -1, length: -1}
	for _, o := range opts {
		o(f)
	}
	return f
}

// MinSpace is the largest record: PrefixSize plus the source's
// MaxPacketSize.
func (f *Framer) MinSpace() int { return PrefixSize + f.max }

// Transform writes the next packet's record into dst. It follows the
// catcher.Transform contract: (n, nil) for one record; (0, io.EOF) at the
// end of the packets; an error from the source, or opus.ErrCorruptPacket
// (wrapped) for an invalid or oversized packet, ends the stream.
func (f *Framer) Transform(dst []byte, src io.Reader) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	p, err := f.src.NextPacket(src)
	if err != nil {
		// The source may know the true length even when it stops with an
		// error (an Ogg link followed by another, say).
		f.length = f.src.Length()
		f.done = err == io.EOF
		return 0, err
	}
	n, err := opus.PacketSamples(p)
	if err != nil {
		return 0, fmt.Errorf("%w (packet %d)", err, f.first+len(f.offsets))
	}
	if len(p) > f.max {
		return 0, fmt.Errorf("%w: packet %d is %d bytes, more than the source's limit %d", opus.ErrCorruptPacket, f.first+len(f.offsets), len(p), f.max)
	}
	if len(dst) < PrefixSize+len(p) {
		return 0, fmt.Errorf("framed: Framer given %d bytes, less than MinSpace", len(dst))
	}
	binary.LittleEndian.PutUint16(dst, uint16(len(p)))
	copy(dst[PrefixSize:], p)
	if f.window > 0 && len(f.offsets) >= 2*f.window {
		// Forget the older half, into fresh arrays: published Indexes
		// keep the old ones for as long as they are held.
		drop := len(f.offsets) - f.window
		f.offsets = append(make([]int64, 0, 2*f.window), f.offsets[drop:]...)
		f.starts = append(make([]int64, 0, 2*f.window), f.starts[drop:]...)
		f.first += drop
	}
	f.offsets = append(f.offsets, f.end)
	f.starts = append(f.starts, f.samples)
	f.end += int64(PrefixSize + len(p))
	f.samples += n
	switch {
	case f.uniform == -1:
		f.uniform = n
	case f.uniform > 0 && f.last != f.uniform:
		f.uniform = 0 // a short packet that was not the last
	}
	f.last = n
	return PrefixSize + len(p), nil
}

// State returns the Index of the records written so far, beside the
// source's state if the source is a catcher.Stater.
func (f *Framer) State() any {
	if st, ok := f.src.(catcher.Stater); ok {
		return catcher.ChainState{st.State(), f.Index()}
	}
	return f.Index()
}

// Size is the memory of the Index's arrays, and of the source if it is a
// catcher.Sizer (see catcher.Sizer).
func (f *Framer) Size() int64 {
	n := int64(cap(f.offsets)+cap(f.starts)) * 8
	if s, ok := f.src.(catcher.Sizer); ok {
		n += s.Size()
	}
	return n
}

// Index returns the Index of the records written so far.
func (f *Framer) Index() Index {
	k := len(f.offsets)
	x := &index{
		first:   f.first,
		offsets: f.offsets[:k:k],
		starts:  f.starts[:k:k],
		end:     f.end,
		samples: f.samples,
		preSkip: f.src.PreSkip(),
		done:    f.done,
		uniform: max(f.uniform, 0),
	}
	if x.uniform > 0 && f.last != f.uniform && (!f.done || f.last > f.uniform) {
		// A different packet at the end: uniform only if it is the
		// last and shorter.
		x.uniform = 0
	}
	x.length = max(0, f.samples-x.preSkip)
	if f.length >= 0 {
		x.length = min(f.length, x.length)
	}
	return Index{x}
}
