package mp3

import "sort"

// maxFrames is how many frames Frames keeps at least: the frames decoded
// last, more than a consumer reading the state after each packet of a
// track's encoder ever misses.
const maxFrames = 64

// Frames is a State that a Decoder publishes beside its Info once it has
// decoded a frame (catcher.StateOf[mp3.Frames]): where the frames it
// decoded last (at least 64 of them) were in its input, and where their
// samples are in its output, so that a byte offset of the input (an
// internet radio's title change, which comes between any two bytes) can
// be placed in the output to the frame. It is an immutable value, safe
// for concurrent use; the zero Frames holds none.
type Frames struct {
	offsets []int64 // input offset of each frame's header, increasing
	samples []int64 // output sample of each frame's first sample
}

// Len returns the number of frames held.
func (f Frames) Len() int { return len(f.offsets) }

// At returns the first frame held whose header is at or after input
// offset off: its offset, and the output sample (per channel, at the
// stream's rate, counted as the decoder's output is, after the start
// delay it trims: negative for a frame whose start is trimmed) at which
// its decoded samples start. ok is false when no frame held is at or
// after off (not decoded yet); a frame older than those held gives the
// oldest held.
func (f Frames) At(off int64) (offset, sample int64, ok bool) {
	i := sort.Search(len(f.offsets), func(i int) bool { return f.offsets[i] >= off })
	if i == len(f.offsets) {
		return 0, 0, false
	}
	return f.offsets[i], f.samples[i], true
}

// record adds a frame decoded at input offset off whose samples start at
// output sample s, forgetting the older half when the arrays are full,
// into fresh ones: published views keep the old arrays. The arrays are
// made whole at the first frame, so that a frame allocates nothing but
// every 64th.
func (f *Frames) record(off, s int64) {
	if f.offsets == nil {
		f.offsets, f.samples = make([]int64, 0, 2*maxFrames), make([]int64, 0, 2*maxFrames)
	}
	if len(f.offsets) >= 2*maxFrames {
		f.offsets = append(make([]int64, 0, 2*maxFrames), f.offsets[maxFrames:]...)
		f.samples = append(make([]int64, 0, 2*maxFrames), f.samples[maxFrames:]...)
	}
	f.offsets = append(f.offsets, off)
	f.samples = append(f.samples, s)
}

// view returns the frames recorded so far, as a value later records
// never change.
func (f *Frames) view() Frames {
	k := len(f.offsets)
	return Frames{offsets: f.offsets[:k:k], samples: f.samples[:k:k]}
}
