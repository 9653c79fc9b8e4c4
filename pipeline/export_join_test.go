package pipeline

import "time"

// Errors of a join that could not be made (JoinPlan.Err).
var (
	ErrJoinNotReady = errJoinNotReady
	ErrJoinMismatch = errJoinMismatch
	ErrJoinShort    = errJoinShort
)

// JoinPlan is a join as the tests see it: A's packets to ALast, Packets,
// B's from BFirst; B's sample j heard at A's length - Fade + Shift + j.
type JoinPlan struct {
	ALast, BFirst      int
	Packets            [][]byte
	Fade, Mixed, Shift int64
	Cut                bool
	Err                error
}

// JoinNow is a.joinNow(b, fade).
func JoinNow(a, b *Track, fade time.Duration) (JoinPlan, bool) {
	j, ready := a.joinNow(b, fade)
	return JoinPlan{ALast: j.aLast, BFirst: j.bFirst, Packets: j.packets, Fade: j.fade, Mixed: j.mixed, Shift: j.shift, Cut: j.cut, Err: j.err}, ready
}

// PrepareJoin is a.prepareJoin(b, fade).
func PrepareJoin(a, b *Track, fade time.Duration) <-chan struct{} { return a.prepareJoin(b, fade) }

// JoinedPackets is the stream of a's packets, the join and b's, as a
// queue plays them (joinedPackets).
func JoinedPackets(a, b *Track, p JoinPlan) ([][]byte, error) {
	return joinedPackets(a, b, &join{aLast: p.ALast, packets: p.Packets, bFirst: p.BFirst})
}

// JoinEncodes is how many joins of a's end were encoded.
func JoinEncodes(a *Track) int64 { return a.joins.encodes.Load() }

// JoinsCached is how many joins a's cache holds.
func JoinsCached(a *Track) int {
	a.joins.mu.Lock()
	defer a.joins.mu.Unlock()
	return len(a.joins.m)
}
