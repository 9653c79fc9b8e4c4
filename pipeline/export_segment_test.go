package pipeline

// SegmentsMade is how many segments t has started.
func SegmentsMade(t *Track) int64 { return t.segs.made.Load() }

// SegmentPlayers is how many players are on t's segments.
func SegmentPlayers(t *Track) int {
	c := &t.segs
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.segs {
		n += int(s.users.Load())
	}
	return n
}
