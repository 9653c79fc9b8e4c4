package pipeline

import (
	"context"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// WithPacing paces the track's encoding by c: it makes each packet no
// sooner than its place in the audio says, counted from the time it made
// the first (packet n, at n×20 ms into the audio, no sooner than n×20 ms
// after packet 0), so that a source faster than real time (a file, a
// download) is played as a radio plays it, and a listener that joins at
// the live edge hears it all from there. A source that is itself real
// time (a radio stream, a live command) is not held back by it; one that
// fell behind (a network stall) catches up as fast as it comes. While a
// paced track waits it holds no slot of its pool.
//
// A live track (WithLive) is paced by the system's clock (SystemClock)
// unless told otherwise; other tracks are not paced unless told. A
// FakeClock makes pacing testable without sleeping; nil turns it off (a
// live source whose bursts should be encoded at once).
func WithPacing(c Clock) TrackOption {
	return func(cfg *trackConfig) { cfg.pacing, cfg.pacingSet = c, true }
}

// pacingOf returns the clock cfg's track is paced by, or nil.
func pacingOf(cfg trackConfig) Clock {
	if !cfg.pacingSet && cfg.live > 0 {
		return SystemClock{}
	}
	return cfg.pacing
}

// pacedSource is a track's packet source held to real time on a clock (see
// WithPacing). It waits before it asks its source for a packet, so that
// a gated source holds no pool slot meanwhile, and the Catcher has
// published the packet before.
type pacedSource struct {
	framed.PacketSource
	clock   Clock
	ctx     context.Context // the track's: Close ends a wait
	start   time.Time       // when the first packet was made
	started bool
	samples int64 // the samples of the packets made
}

// pace returns src paced by clock, or src itself if clock is nil. A
// catcher.Stater stays one.
func pace(src framed.PacketSource, clock Clock, ctx context.Context) framed.PacketSource {
	if clock == nil {
		return src
	}
	p := &pacedSource{PacketSource: src, clock: clock, ctx: ctx}
	if st, ok := src.(catcher.Stater); ok {
		return pacedStater{p, st}
	}
	return p
}

func (p *pacedSource) NextPacket(src io.Reader) ([]byte, error) {
	if p.started {
		if err := p.clock.Wait(p.ctx, p.start.Add(opus.Duration(p.samples))); err != nil {
			return nil, err
		}
	}
	pk, err := p.PacketSource.NextPacket(src)
	if err != nil {
		return nil, err
	}
	if !p.started {
		p.start, p.started = p.clock.Now(), true
	}
	if n, err := opus.PacketSamples(pk); err == nil { // the Framer refuses the packet otherwise
		p.samples += n
	}
	return pk, nil
}

// Size is the source's (see catcher.Sizer).
func (p *pacedSource) Size() int64 {
	if s, ok := p.PacketSource.(catcher.Sizer); ok {
		return s.Size()
	}
	return 0
}

// pacedStater is a pacedSource that is a catcher.Stater, as its source
// is.
type pacedStater struct {
	*pacedSource
	st catcher.Stater
}

func (p pacedStater) State() any { return p.st.State() }
