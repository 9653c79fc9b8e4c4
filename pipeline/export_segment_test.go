package pipeline

// SegmentsMade is the segments a track has started.
func SegmentsMade(t *Track) int64 { return t.segs.made.Load() }

// SegmentState describes a track's segments: their first packets, their
// packets encoded, whether each has ended and its error.
func SegmentState(t *Track) (firsts, lens []int, ended []bool, errs []error) {
	t.segs.mu.Lock()
	defer t.segs.mu.Unlock()
	for _, s := range t.segs.segs {
		s.mu.Lock()
		firsts, lens, ended, errs = append(firsts, s.first), append(lens, len(s.packets)), append(ended, s.ended), append(errs, s.err)
		s.mu.Unlock()
	}
	return
}
