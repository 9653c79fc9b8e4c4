//go:build cgo

package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// longMP3 is an MP3 of about d: prog_notag.mp3 (no LAME tag, so that its
// copies make one stream) again and again, frames after frames.
func longMP3(t testing.TB, d time.Duration) []byte {
	one := testutil.Fixture(t, "prog_notag.mp3")
	n := int(d/(3*time.Second)) + 1
	return bytes.Repeat(one, n)
}

// heldOpener opens source data, the first open of it giving its first
// head bytes at once and the rest once released (a track whose encode
// has just started and goes slowly), every later open all of it.
// Later opens can seek unless plain is set; read counts the bytes read
// from them.
type heldOpener struct {
	data     []byte
	head     int
	released chan struct{}
	plain    bool
	read     atomic.Int64
	mu       sync.Mutex
	opens    int
}

func (o *heldOpener) open(_ context.Context, _ string) (io.Reader, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens++
	r := bytes.NewReader(o.data)
	if o.opens == 1 {
		return io.MultiReader(io.LimitReader(r, int64(o.head)), &gate{r: r, open: o.released}), nil
	}
	c := countedReader{Reader: r, n: &o.read}
	if o.plain {
		return struct{ io.Reader }{c}, nil // no Seek
	}
	return c, nil
}

// countedReader is a bytes.Reader that counts the bytes read from it.
type countedReader struct {
	*bytes.Reader
	n *atomic.Int64
}

func (c countedReader) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// decodeAll decodes packets with one decoder, as a receiver does, and
// returns the left channel, full scale 1.
func decodeAll(t *testing.T, packets [][]byte) []float64 {
	t.Helper()
	dec, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	var out []float64
	for _, p := range packets {
		pcm, err := dec.Decode(p)
		require.NoError(t, err)
		for i := 0; i+1 < len(pcm); i += 2 {
			out = append(out, float64(pcm[i])/32768)
		}
	}
	return out
}

// A seek 3 minutes into a 4-minute MP3 (45 s into a minute's, with
// -short) whose encode has just started (its source held after its first
// 200 KB) is made from a segment encoded from the target (see
// seekAheadEncoded).
func TestQueueSeekAheadMP3(t *testing.T) {
	length, target := 4*time.Minute, 3*time.Minute
	if testing.Short() {
		length, target = time.Minute, 45*time.Second
	}
	o := &heldOpener{data: longMP3(t, length), head: 200 << 10, released: make(chan struct{})}
	seekAheadEncoded(t, o, target)
}

// seekAheadEncoded checks a seek to target of a track of o's source,
// whose encode has just started (o holds its source after its head):
// the queue plays on meanwhile, then gives a silence frame at the
// target's packet, the segment's packets after it, at their exact
// positions, their audio the track's own at those positions; once the
// track's encode has passed, the queue goes back onto the track's packets
// through a transition, within the seam bound. It releases o. The
// Library is made with opts too; it returns whether the track's encode
// ran pipelined.
func seekAheadEncoded(t *testing.T, o *heldOpener, target time.Duration, opts ...pipeline.LibraryOption) bool {
	t.Helper()
	released := false
	defer func() {
		if !released {
			close(o.released)
		}
	}()
	lib := pipeline.NewLibrary(append([]pipeline.LibraryOption{pipeline.WithOpener(o.open)}, opts...)...)
	defer lib.Close()
	q := pipeline.NewQueue(lib)
	defer q.Close()
	key := pipeline.Key{Source: "long"}
	id := q.Enqueue(key)
	first := nextPacket(t, q)

	q.Seek(id, target)
	var (
		played    []pipeline.Packet // from the jump on
		before    = first.Position  // position of the last packet before the jump
		jumped    bool
		meanwhile int
	)
	for len(played) < 200 {
		pk := nextPacket(t, q)
		if !jumped && pk.Position == before+960 { // plays on where it was meanwhile
			before = pk.Position
			meanwhile++
			require.Less(t, meanwhile, 3000, "the seek made within 60 s of audio played on")
			continue
		}
		jumped = true
		played = append(played, pk)
	}
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	x, ok := h.Track().Index()
	require.True(t, ok)
	pre, u := x.PreSkip(), int64(960)
	i0 := (int64(target/time.Millisecond)*48 + pre) / u
	assert.Less(t, int64(x.Packets()), i0, "the track's own encode is not there: the packets came from a segment")
	t.Logf("%d packets played on before the jump", meanwhile)
	assert.True(t, played[0].Silence, "a silence frame in place of the target's packet")
	for k, pk := range played {
		require.Equal(t, (i0+int64(k))*u-pre, pk.Position, "packet %d after the jump at its exact position", k)
		if k > 0 {
			assert.False(t, pk.Silence)
		}
	}

	close(o.released)
	released = true
	select {
	case <-h.Track().Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("track not finished")
	}
	require.NoError(t, h.Track().Err())
	// The queue goes back onto the track's packets: a transition, then
	// the track's own.
	var seams int
	for {
		pk := nextPacket(t, q)
		played = append(played, pk)
		if pk.Seam {
			seams++
			continue
		}
		if seams > 0 {
			break
		}
		require.Less(t, len(played), 2000, "back onto the track within 40 s of audio")
	}
	for range 50 {
		played = append(played, nextPacket(t, q))
	}
	own := packets(t, h.Track())
	n := len(played)
	last := played[n-1]
	k := (last.Position + pre) / u
	assert.Equal(t, own[k], last.Data, "the track's own packets after the transition")

	// The audio: what a receiver decodes from the jump on against the
	// track's own audio decoded in continuous play, at the same positions.
	ref := decodeAll(t, own)
	datas := make([][]byte, n)
	for k, pk := range played {
		datas[k] = pk.Data
	}
	rx := decodeAll(t, datas)
	at := int(i0 * u) // where rx[0] is in ref
	seg := int(200 * u)
	lag, corr := testutil.BestLag(ref[at:], rx, 10*int(u), seg, 20)
	assert.Zero(t, lag, "the segment's audio at the track's positions (correlation %.3f)", corr)
	snr := testutil.SNR(ref[at:at+len(rx)], rx, 10*int(u), seg)
	assert.Greater(t, snr, 15.0, "the segment's audio is the track's: SNR %.1f dB", snr)
	t.Logf("segment against the track: lag %d, correlation %.4f, SNR %.1f dB", lag, corr, snr)

	// The seam bound at the way back: from 10 ms before the transition to
	// 60 ms after it, no louder than the larger side's peak by 1 dB.
	back := 0
	for k, pk := range played {
		if pk.Seam {
			back = k
			break
		}
	}
	require.NotZero(t, back)
	b := back * int(u)
	heard := peakOf(rx[b-480 : b+2880])
	side := max(peakOf(ref[at+b-9600:at+b]), peakOf(ref[at+b:at+b+9600]), math.Pow(10, -40.0/20))
	excess := testutil.DB(heard / side)
	assert.LessOrEqual(t, excess, 1.0, "the seam bound at the way back: %.2f dB", excess)
	t.Logf("the way back: %.2f dB over the larger side", excess)
	return pipeline.Pipelined(h.Track())
}

func peakOf(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// closingReader is a reader whose Close is counted.
type closingReader struct {
	io.Reader
	closed *int32
	mu     *sync.Mutex
}

func (c closingReader) Close() error {
	c.mu.Lock()
	*c.closed++
	c.mu.Unlock()
	return nil
}

// A segment that no player is on any more ends its encode once the track
// has what it has, or has ended, and closes its source, rather than
// waiting for a player to need more until the track is closed.
func TestSegmentEndsWithoutPlayers(t *testing.T) {
	data := longMP3(t, time.Minute)
	held := &heldOpener{data: data, head: 100 << 10, released: make(chan struct{})}
	var mu sync.Mutex
	var closed int32
	opens := 0
	open := func(ctx context.Context, s string) (io.Reader, error) {
		r, err := held.open(ctx, s)
		mu.Lock()
		opens++
		mu.Unlock()
		return closingReader{Reader: r, closed: &closed, mu: &mu}, err
	}
	released := false
	defer func() {
		if !released {
			close(held.released)
		}
	}()
	lib := pipeline.NewLibrary(pipeline.WithOpener(open))
	defer lib.Close()
	q := pipeline.NewQueue(lib)
	defer q.Close()
	key := pipeline.Key{Source: "long"}
	id := q.Enqueue(key)
	first := nextPacket(t, q)
	q.Seek(id, 40*time.Second)
	for n := 0; ; n++ { // until the jump into the segment
		require.Less(t, n, 5000, "the seek made")
		pk := nextPacket(t, q)
		if pk.Position > first.Position+960*int64(n+1) {
			break
		}
	}
	q.Seek(id, 0) // back to the start, encoded: the player leaves the segment
	for range 10 {
		nextPacket(t, q)
	}
	mu.Lock()
	require.Equal(t, 2, opens, "the track's source and the segment's")
	mu.Unlock()
	close(held.released) // the track's own encode runs to its end
	released = true
	// The waits below are on the track's encode of its minute of audio:
	// seconds on a quiet machine, under the race detector; bounded for
	// one ten times slower.
	eventuallyWithin(t, 5*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return closed >= 1 // the segment's source: the track's is closed at its end too
	}, "a source closed")
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	select {
	case <-h.Track().Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("the track did not end")
	}
	eventuallyWithin(t, 5*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return closed == 2
	}, "the segment's source closed once the track ended, the track still held")
}
