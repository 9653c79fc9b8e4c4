package pipeline

// SeamPackets is the length of a transition of 20 ms packets, when it
// does not go through silence.
const SeamPackets = seamTime / 960

// SeamGaps returns how many of t's transitions went through silence.
func SeamGaps(t *Track) int64 { return t.seams.gaps.Load() }
