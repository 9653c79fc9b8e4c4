package framed

import (
	"sort"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Index is the state of a Framer: where each packet of the framed stream
// starts, in bytes and in samples, with the pre-skip and the true length.
// Each quantity has one method, in one unit:
//
//	Packets          packets indexed since the stream's start (a count)
//	Duration         the stream's true length as a time.Duration
//	DurationSamples  the same, in samples at 48 kHz, pre-skip excluded
//	DecodedSamples   the samples the packets decode to, pre-skip included
//	PreSkip          samples to drop from the decoder's output, at its start
//	End              bytes of the framed stream (records and prefixes)
//	Size             bytes of memory the Index itself takes (catcher.Sizer)
//
// A
// Catcher publishes it with the bytes it describes
// (catcher.StateOf[framed.Index] returns it), so it can be read without a
// lock while encoding goes on.
//
// An Index is an immutable value: its arrays are views of append-only
// arrays, never written below their length after it was published, and are
// reached only through its methods. It is safe for concurrent use; copying
// it copies a pointer. The zero Index has no packets.
type Index struct {
	*index
}

type index struct {
	first   int     // the number of the packet at offsets[0]
	offsets []int64 // offsets[i]: byte offset of packet first+i's record
	starts  []int64 // starts[i]: first sample of packet first+i, pre-skip included
	end     int64
	samples int64
	preSkip int64
	length  int64
	done    bool
	uniform int64
}

// Entry describes one packet of an Index.
type Entry struct {
	Offset  int64 // byte offset of the packet's record (its length prefix)
	Size    int   // the packet's size in bytes, prefix excluded
	Start   int64 // first sample, pre-skip included
	Samples int64 // duration
}

// empty is the zero Index's data.
var empty = &index{}

func (x Index) data() *index {
	if x.index == nil {
		return empty
	}
	return x.index
}

// Packets returns the number of packets indexed, counted from the
// stream's first (packets a window has forgotten included, see First): the
// number one past the last packet's.
func (x Index) Packets() int {
	d := x.data()
	return d.first + len(d.offsets)
}

// First returns the number of the first packet still indexed: 0, except
// for a Framer with WithIndexWindow, which forgets older packets.
func (x Index) First() int { return x.data().first }

// Entry returns packet i's entry. It panics if i is not in [First(),
// Packets()), as an index into a slice does.
func (x Index) Entry(i int) Entry {
	d := x.data()
	j := i - d.first
	e := Entry{Offset: d.offsets[j], Start: d.starts[j]}
	if j+1 < len(d.offsets) {
		e.Size = int(d.offsets[j+1]-e.Offset) - PrefixSize
		e.Samples = d.starts[j+1] - e.Start
	} else {
		e.Size = int(d.end-e.Offset) - PrefixSize
		e.Samples = d.samples - e.Start
	}
	return e
}

// End returns the byte offset just past the last record: the bytes of the
// framed stream, length prefixes included.
func (x Index) End() int64 { return x.data().end }

// DecodedSamples returns the samples (per channel, at 48 kHz) that the
// packets decode to, pre-skip included: DurationSamples plus the pre-skip
// and any end trimming.
func (x Index) DecodedSamples() int64 { return x.data().samples }

// PreSkip returns the number of samples to drop from the start of the
// decoded stream.
func (x Index) PreSkip() int64 { return x.data().preSkip }

// DurationSamples returns the true length of the stream in samples (per
// channel, at 48 kHz), pre-skip excluded: Duration, in samples. It is
// exact once Done (the encoder's or the Ogg file's end trimming applied),
// DecodedSamples less the pre-skip before that.
func (x Index) DurationSamples() int64 { return x.data().length }

// Done reports that the stream has ended cleanly: no packet will be added.
func (x Index) Done() bool { return x.data().done }

// Uniform returns the duration of every packet if they all have the same
// (every packet but a shorter last one, once Done), else 0.
func (x Index) Uniform() int64 { return x.data().uniform }

// Duration returns the true duration of the stream (so far, until Done):
// DurationSamples as a time.Duration.
func (x Index) Duration() time.Duration { return opus.Duration(x.data().length) }

// Size returns the bytes of memory the Index's arrays take (see
// catcher.Sizer): not the stream's bytes (End) nor its length (Duration).
func (x Index) Size() int64 {
	d := x.data()
	return int64(cap(d.offsets)+cap(d.starts))*8 + 80
}

// packetAt returns the local index of the packet holding decoded sample s
// (pre-skip included), which must be below samples; 0 for a sample before
// the first packet indexed.
func (x Index) packetAt(s int64) int {
	d := x.data()
	if d.uniform > 0 {
		return max(0, min(int(s/d.uniform)-d.first, len(d.starts)-1))
	}
	return max(0, sort.Search(len(d.starts), func(i int) bool { return d.starts[i] > s })-1)
}

// FindOffset returns the first packet indexed whose record starts at or
// after byte offset off (Packets() if none): where a reader left behind a
// window's eviction can go on.
func (x Index) FindOffset(off int64) int {
	d := x.data()
	return d.first + sort.Search(len(d.offsets), func(i int) bool { return d.offsets[i] >= off })
}

// Find returns the packet that holds position pos (a sample counted from 0
// after the pre-skip) and how many samples of that packet's decoded output
// come before pos. A negative pos is 0; pos past the packets gives Packets()
// and 0; pos before the first packet indexed gives First() and 0. It is
// O(1) when packets are uniform, O(log n) otherwise.
func (x Index) Find(pos int64) (packet int, skip int64) {
	d := x.data()
	s := max(pos, 0) + d.preSkip
	if len(d.starts) == 0 || s >= d.samples {
		return x.Packets(), 0
	}
	j := x.packetAt(s)
	return d.first + j, max(0, s-d.starts[j])
}

// FindTime is Find for a time from the start (after the pre-skip).
func (x Index) FindTime(d time.Duration) (packet int, skip int64) {
	return x.Find(opus.Samples(d))
}

// DecodeFrom returns where to start decoding to play from position pos:
// the packet opus.PreRoll samples earlier in the decoded stream (the
// pre-skip region counts, so a stream's first packets serve as the
// pre-roll of a position near its start), or the first packet; and how
// many decoded samples to drop from that packet's start to reach pos (pass
// them to a fresh decoder as its pre-skip). pos past the packets gives
// Packets() and 0; pos before the first packet still indexed (see First)
// gives First() and 0.
func (x Index) DecodeFrom(pos int64) (packet int, drop int64) {
	d := x.data()
	s := max(pos, 0) + d.preSkip
	if len(d.starts) == 0 || s >= d.samples {
		return x.Packets(), 0
	}
	j := x.packetAt(max(0, s-opus.PreRoll))
	return d.first + j, max(0, s-d.starts[j])
}
