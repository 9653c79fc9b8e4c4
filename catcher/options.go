package catcher

import "fmt"

// Growth says how large each newly allocated chunk of the cache is. The n-th
// chunk (from 0) has Size(n) bytes. Chunks are never moved or copied while
// the stream grows, so a strategy trades the memory left unused in the last
// chunk against the number of allocations.
//
// The zero Growth is the default: Geometric(4 KiB, 1 MiB).
type Growth struct {
	kind  growthKind
	start int
	max   int
}

type growthKind uint8

const (
	growthDefault growthKind = iota
	growthConstant
	growthLinear
	growthGeometric
)

const (
	defaultChunkStart = 4 << 10
	defaultChunkMax   = 1 << 20
	// MaxChunk is the largest chunk a Growth may allocate: 1 GiB.
	MaxChunk = 1 << 30
	// maxHintChunk caps the chunk allocated for a length hint, so that an
	// absurd hint (a forged Content-Length, say) cannot cause an absurd
	// allocation. Larger streams continue in chunks of the Growth.
	maxHintChunk = 64 << 20
)

// Constant allocates every chunk with size bytes. It panics if size < 1 or
// size > MaxChunk.
func Constant(size int) Growth {
	if size < 1 || size > MaxChunk {
		panic(fmt.Sprintf("catcher: Constant(%d): need 1 <= size <= MaxChunk", size))
	}
	return Growth{kind: growthConstant, start: size, max: size}
}

// Linear allocates chunks of start, 2*start, 3*start, ... bytes, each at
// most max. It panics unless 1 <= start <= max <= MaxChunk.
func Linear(start, max int) Growth {
	checkGrowth("Linear", start, max)
	return Growth{kind: growthLinear, start: start, max: max}
}

// Geometric allocates chunks of start, 2*start, 4*start, ... bytes, each at
// most max. It panics unless 1 <= start <= max <= MaxChunk.
func Geometric(start, max int) Growth {
	checkGrowth("Geometric", start, max)
	return Growth{kind: growthGeometric, start: start, max: max}
}

func checkGrowth(name string, start, max int) {
	if start < 1 || max < start || max > MaxChunk {
		panic(fmt.Sprintf("catcher: %s(%d, %d): need 1 <= start <= max <= MaxChunk", name, start, max))
	}
}

// Size is the size in bytes of the n-th chunk (n from 0).
func (g Growth) Size(n int) int {
	switch g.kind {
	case growthConstant:
		return g.start
	case growthLinear:
		if n >= g.max/g.start {
			return g.max
		}
		return g.start * (n + 1)
	case growthGeometric:
		s := g.start
		for i := 0; i < n && s < g.max; i++ {
			s = min(2*s, g.max) // no overflow: s < max <= MaxChunk
		}
		return s
	default:
		return Geometric(defaultChunkStart, defaultChunkMax).Size(n)
	}
}

// Max is the largest chunk the strategy allocates.
func (g Growth) Max() int {
	if g.kind == growthDefault {
		return defaultChunkMax
	}
	return g.max
}

// String describes the strategy, as in "geometric(4096, 1048576)".
func (g Growth) String() string {
	switch g.kind {
	case growthConstant:
		return fmt.Sprintf("constant(%d)", g.start)
	case growthLinear:
		return fmt.Sprintf("linear(%d, %d)", g.start, g.max)
	case growthGeometric:
		return fmt.Sprintf("geometric(%d, %d)", g.start, g.max)
	default:
		return "default"
	}
}

// An Option configures a Catcher at New.
type Option func(*config)

type config struct {
	growth    Growth
	hint      int64
	maxBytes  int64
	window    int64
	transform Transform
	finalise  bool
	readAhead int64
	preload   bool
}

// WithGrowth sets the chunk growth strategy. The default is
// Geometric(4 KiB, 1 MiB).
func WithGrowth(g Growth) Option { return func(c *config) { c.growth = g } }

// WithLengthHint sizes the first chunk for a stream of about n bytes, so that
// a stream of known length is held in one chunk. Hints above 64 MiB are
// treated as 64 MiB; the stream may be shorter or longer than the hint. It
// panics if n < 0.
func WithLengthHint(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("catcher: negative length hint %d", n))
	}
	return func(c *config) { c.hint = n }
}

// WithMaxBytes bounds the stream's length: a source that goes on past n
// bytes ends the stream with ErrTooLong after its first n bytes. Zero, the
// default, means no bound. It panics if n < 0.
func WithMaxBytes(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("catcher: negative MaxBytes %d", n))
	}
	return func(c *config) { c.maxBytes = n }
}

// WithWindow keeps only about the last n bytes of the stream (at least n,
// and less than n plus one chunk), for endless sources. Older chunks are
// freed; a reader whose position falls before the window gets ErrEvicted.
// Chunks are capped at n/4 bytes (but never below the transform's MinSpace)
// so that eviction is fine-grained. Zero, the default, keeps everything. It
// panics if n < 0.
func WithWindow(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("catcher: negative window %d", n))
	}
	return func(c *config) { c.window = n }
}

// WithTransform runs t inside the fill: the cache holds t's output, computed
// once however many readers there are.
func WithTransform(t Transform) Option { return func(c *config) { c.transform = t } }

// WithReadAhead sets how far past the furthest byte a reader has waited for
// the fill goes on reading before it stops, so that a reader that keeps up
// seldom waits and a transform in the fill works ahead of its readers. The
// default is 1 MiB; 0 reads only what readers wait for; math.MaxInt64
// reads to the end once anyone has waited. In window mode it is at most
// half the window. A wait that a context cancels leaves no read-ahead
// behind. It panics if n < 0.
func WithReadAhead(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("catcher: negative read-ahead %d", n))
	}
	return func(c *config) { c.readAhead = n }
}

// WithFinalise copies the chunks into one contiguous store when the source
// ends, so that random reads no longer search the chunk list. It costs one
// copy of the stream and, for a moment, twice its memory. It pays for random
// access to a finished stream (ReadAt 1.5 times faster with the default
// growth, 3 times with 4 KiB chunks, in bench/README.md), not for sequential
// Readers, which remember their chunk. It has no effect in window mode.
func WithFinalise() Option { return func(c *config) { c.finalise = true } }

// WithPreload starts filling from the source at once, in the background,
// without waiting for a reader to ask. It is the same as calling Preload
// right after New.
func WithPreload() Option { return func(c *config) { c.preload = true } }
