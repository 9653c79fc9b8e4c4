package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// loaded returns a finished track of the MP3 fixture (151 packets of 20
// ms) and its packets.
func loaded(t *testing.T) (*pipeline.Track, [][]byte) {
	t.Helper()
	tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog_48000.mp3")))
	all := packets(t, tr)
	require.Len(t, all, 151)
	return tr, all
}

// drain plays p to its end, returning the packets (silence frames apart)
// and the silence frames seen after the last.
func drain(t *testing.T, p *pipeline.Player) (got []pipeline.Packet, silence int, err error) {
	t.Helper()
	for {
		pk, err := p.Next()
		if errors.Is(err, pipeline.ErrUnderrun) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return got, silence, err
		}
		if pk.Silence {
			silence++
			continue
		}
		require.Zero(t, silence, "no packet after the silence frames")
		got = append(got, pk)
	}
}

// drainAll returns every packet p gives, silence frames included, to its
// end (underruns waited out).
func drainAll(p *pipeline.Player) ([]pipeline.Packet, error) {
	var got []pipeline.Packet
	for {
		pk, err := p.Next()
		if errors.Is(err, pipeline.ErrUnderrun) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return got, err
		}
		got = append(got, pk)
	}
}

func TestPlayerSize(t *testing.T) {
	size := unsafe.Sizeof(pipeline.Player{})
	t.Logf("a Player is %d bytes", size)
	assert.LessOrEqual(t, size, uintptr(144), "about 140 bytes beyond the track")
}

// Every player gets exactly its packets, each at its own position, while
// the track encodes: 1000 of them, under -race.
func TestThousandPlayers(t *testing.T) {
	data := testutil.Fixture(t, "prog_48000.mp3")
	_, all := loaded(t)
	tr := newTrack(t, bytes.NewReader(data))
	n := 1000
	if testing.Short() {
		n = 200
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := tr.NewPlayer()
			at := time.Duration(i%150) * 20 * time.Millisecond
			if at > 0 {
				if err := p.Seek(context.Background(), at); err != nil {
					t.Error(err)
					return
				}
			}
			got, err := drainAll(p)
			if err != io.EOF {
				t.Errorf("player %d: %v", i, err)
				return
			}
			first := int((opus.Samples(at) + 312) / 960)
			if len(got) != 151-first+5 {
				t.Errorf("player %d from %v: %d packets and silence frames; want %d and 5", i, at, len(got), 151-first)
				return
			}
			for j, pk := range got[len(got)-5:] {
				if !pk.Silence {
					t.Errorf("player %d: end %d is no silence frame", i, j)
					return
				}
			}
			for j, pk := range got[:len(got)-5] {
				// After a seek, the first packets are the seam's
				// transition, if the packets around it were encoded; if
				// no transition could be made, a silence frame in place
				// of the first (a jump without a transition: see Player).
				seam := at > 0 && j < pipeline.SeamPackets
				reset := at > 0 && j == 0 && pk.Silence
				if pk.Silence && !reset || pk.Seam && !seam || !pk.Seam && !pk.Silence && !bytes.Equal(all[first+j], pk.Data) || pk.Timestamp != int64(j)*960 ||
					pk.Position != int64((first+j)*960-312) {
					t.Errorf("player %d: packet %d differs (seam %v)", i, j, pk.Seam)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Seeks land on the packet that holds the position, to the packet, and a
// seek past the end of a finished track is an error.
func TestPlayerSeek(t *testing.T) {
	tr, all := loaded(t)
	p := tr.NewPlayer()
	for _, at := range []time.Duration{0, 10 * time.Millisecond, time.Second, 2*time.Second + 999*time.Millisecond} {
		require.NoError(t, p.Seek(context.Background(), at))
		pk, err := p.Next()
		require.NoError(t, err)
		want := int((opus.Samples(at) + 312) / 960)
		assert.LessOrEqual(t, pk.Position, opus.Samples(at))
		assert.Greater(t, pk.Position+pk.Samples, opus.Samples(at), "the packet holds the position")
		// The seam's transition (none for a new player at the start),
		// then the track's own packets.
		for n := 0; pk.Seam; n++ {
			require.Less(t, n, pipeline.SeamPackets+1, "a transition is short")
			assert.Equal(t, int64(want*960-312), pk.Position)
			pk, err = p.Next()
			require.NoError(t, err)
			want++
		}
		if want == len(all) {
			assert.True(t, pk.Silence, "the end")
			continue
		}
		assert.Equal(t, all[want], pk.Data, "seek to %v", at)
	}
	err := p.Seek(context.Background(), 3*time.Second+20*time.Millisecond)
	assert.ErrorIs(t, err, pipeline.ErrSeekPastEnd)
}

// A seek into the part not encoded yet waits for it, cancellably.
func TestPlayerSeekWhileEncoding(t *testing.T) {
	pr, pw := io.Pipe()
	data := testutil.Fixture(t, "prog_48000.mp3")
	tr := newTrack(t, pr)
	p := tr.NewPlayer()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Seek(ctx, 2*time.Second), context.DeadlineExceeded, "nothing encoded: the wait ends with ctx")
	go func() {
		for off := 0; off < len(data); off += 4096 {
			pw.Write(data[off:min(off+4096, len(data))])
			time.Sleep(2 * time.Millisecond)
		}
		pw.Close()
	}()
	require.NoError(t, p.Seek(context.Background(), 2*time.Second))
	pk, err := p.Next()
	require.NoError(t, err)
	assert.LessOrEqual(t, pk.Position, int64(96000))
	assert.Greater(t, pk.Position+pk.Samples, int64(96000), "the packet that holds 2 s")
}

// Loops are packet-continuous: no packet missing, timestamps continuous.
func TestPlayerLoops(t *testing.T) {
	tr, all := loaded(t)
	p := tr.NewPlayer()
	p.Loop(2)
	got, silence, err := drain(t, p)
	require.Equal(t, io.EOF, err)
	assert.Equal(t, 5, silence)
	require.Len(t, got, 3*151, "the track three times")
	for i, pk := range got {
		assertPacket(t, all[i%151], pk, i)
		assert.Equal(t, int64(i)*960, pk.Timestamp, "continuous timestamps")
	}
	assert.Equal(t, 2*pipeline.SeamPackets, seams(got), "a transition at each loop")
	assert.Equal(t, int64(2), p.Stats().Loops)

	// A section: from 1 s to 1.5 s, looped twice more.
	p = tr.NewPlayer()
	require.NoError(t, p.LoopSection(time.Second, 1500*time.Millisecond, 2))
	got, _, err = drain(t, p)
	require.Equal(t, io.EOF, err)
	from, to := int((48000+312)/960), int((72000+312+959)/960) // the packet holding 1 s; the first starting at or after 1.5 s
	want := append(append(append([][]byte{}, all[:to]...), all[from:to]...), all[from:]...)
	require.Len(t, got, len(want))
	for i := range got {
		assertPacket(t, want[i], got[i], i)
		assert.Equal(t, int64(i)*960, got[i].Timestamp)
	}
	assert.Equal(t, 2*pipeline.SeamPackets, seams(got), "a transition at each loop")
	assert.Error(t, p.LoopSection(time.Second, time.Second, 1))
}

// assertPacket checks that pk, the i-th packet a player gave, is the
// track's packet want, or a transition in its place (at its position).
func assertPacket(t *testing.T, want []byte, pk pipeline.Packet, i int) {
	t.Helper()
	if !pk.Seam {
		assert.Equal(t, want, pk.Data, "packet %d", i)
	}
}

// seams counts the transition packets of got.
func seams(got []pipeline.Packet) int {
	n := 0
	for _, pk := range got {
		if pk.Seam {
			n++
		}
	}
	return n
}

func TestPlayerPause(t *testing.T) {
	tr, all := loaded(t)
	p := tr.NewPlayer()
	for range 10 {
		_, err := p.Next()
		require.NoError(t, err)
	}
	p.Pause()
	assert.True(t, p.Paused())
	for range 5 {
		pk, err := p.Next()
		require.NoError(t, err)
		assert.True(t, pk.Silence)
		assert.Equal(t, []byte{0xf8, 0xff, 0xfe}, pk.Data)
	}
	_, err := p.Next()
	assert.ErrorIs(t, err, pipeline.ErrPaused)
	p.Resume()
	pk, err := p.Next()
	require.NoError(t, err)
	// It goes on where it was: the track's packet, or the resume's
	// transition in its place, once encoded in the background (with
	// go-mp3's 16-bit output, this fixture's start was digital silence,
	// whose packets and transition are the same silence frames).
	assertPacket(t, all[10], pk, 10)
	assert.Equal(t, int64(15*960), pk.Timestamp, "the silence frames count in the clock")
	assert.Equal(t, int64(5), p.Stats().Silence)
}

// A player that is ahead of the encoding says so, and counts it.
func TestPlayerUnderrun(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	tr := newTrack(t, pr, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}))
	p := tr.NewPlayer()
	_, err := p.Next()
	assert.ErrorIs(t, err, pipeline.ErrUnderrun)
	_, err = p.Next()
	assert.ErrorIs(t, err, pipeline.ErrUnderrun)
	assert.Equal(t, int64(2), p.Stats().Underruns)
	pw.Write(make([]byte, 3840*2))
	require.Eventually(t, func() bool { _, err := p.Next(); return err == nil }, 10*time.Second, time.Millisecond)
}

// A player of a live track left behind its window jumps to the oldest
// packet kept, and counts the skip.
func TestPlayerLiveSkip(t *testing.T) {
	tr := newTrack(t, &endless{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithLive(2*time.Second), pipeline.WithPacing(nil),
		pipeline.WithPool(pipeline.NewPool(1)))
	p := tr.NewPlayer()
	_, err := tr.NewCursor().NextContext(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { x, _ := tr.Index(); return x.First() > 0 }, 20*time.Second, time.Millisecond)
	pk, err := p.Next()
	require.NoError(t, err)
	assert.Positive(t, p.Stats().Skips)
	x, _ := tr.Index()
	assert.GreaterOrEqual(t, pk.Position+312, x.Entry(x.First()).Start)
	assert.Positive(t, p.SkipToLive(), "to the live edge")
}

// A seek does not end a pause: the player gives its silence frames, stays
// paused, and plays from where it was sent on Resume.
func TestPlayerSeekWhilePaused(t *testing.T) {
	tr, _ := loaded(t)
	p := tr.NewPlayer()
	_, err := p.Next()
	require.NoError(t, err)
	p.Pause()
	for range 2 {
		pk, err := p.Next()
		require.NoError(t, err)
		require.True(t, pk.Silence)
	}
	require.NoError(t, p.Seek(context.Background(), time.Second))
	assert.True(t, p.Paused())
	for range opus.SilenceFrames - 2 {
		pk, err := p.Next()
		require.NoError(t, err)
		assert.True(t, pk.Silence, "the pause's silence frames go on")
	}
	_, err = p.Next()
	assert.ErrorIs(t, err, pipeline.ErrPaused)
	p.Resume()
	pk, err := p.Next()
	require.NoError(t, err)
	assert.False(t, pk.Silence)
	assert.InDelta(t, 48000, pk.Position, 960, "from the position sought")
}

// A seek at or past a finished track's duration is ErrSeekPastEnd, even
// within the padding of its last packet; just before it is a seek.
func TestPlayerSeekAtDuration(t *testing.T) {
	tr, _ := loaded(t)
	d, exact := tr.Duration()
	require.True(t, exact)
	p := tr.NewPlayer()
	for _, past := range []time.Duration{d, d + time.Millisecond, d + 10*time.Millisecond, d + time.Hour} {
		assert.ErrorIs(t, p.Seek(context.Background(), past), pipeline.ErrSeekPastEnd, "%v", past)
	}
	require.NoError(t, p.Seek(context.Background(), d-5*time.Millisecond))
	pk, err := p.Next()
	require.NoError(t, err)
	assert.False(t, pk.Silence)
}

// slide waits until a live track has let go of its first n packets.
func slide(t *testing.T, tr *pipeline.Track, n int) {
	t.Helper()
	_, err := tr.NewCursor().NextContext(context.Background())
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if x, _ := tr.Index(); x.First() > n {
			return
		}
		require.False(t, time.Now().After(deadline), "the live window did not move")
		time.Sleep(time.Millisecond)
	}
}

// A loop over a section that a live track's window has let go of is not
// spun on: one Next loops back once at most, and the player plays on.
func TestPlayerLoopSectionLeftLiveWindow(t *testing.T) {
	tr := newTrack(t, &endless{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}),
		pipeline.WithLive(2*time.Second), pipeline.WithPacing(nil), pipeline.WithPool(pipeline.NewPool(1)))
	p := tr.NewPlayer()
	slide(t, tr, 200)
	for _, loops := range []int{100000, -1} {
		q := tr.NewPlayer()
		require.NoError(t, q.LoopSection(0, 100*time.Millisecond, loops))
		done := make(chan error, 1)
		go func() {
			_, err := q.Next()
			done <- err
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("LoopSection(%d): Next did not return", loops) // the goroutine spins on
		}
		assert.LessOrEqual(t, q.Stats().Loops, int64(1), "loops: %d", loops)
	}
	require.NoError(t, p.LoopSection(0, 100*time.Millisecond, -1))
	for range 3 {
		_, err := p.Next()
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, p.Stats().Loops, int64(1))
}

// A new player of a live track starts at the oldest packet kept, and what
// the window let go of before it came is not counted as its skips.
func TestPlayerLiveStartsAtOldest(t *testing.T) {
	tr := newTrack(t, &endless{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}),
		pipeline.WithLive(2*time.Second), pipeline.WithPacing(nil), pipeline.WithPool(pipeline.NewPool(1)))
	slide(t, tr, 200)
	p := tr.NewPlayer()
	pk, err := p.Next()
	require.NoError(t, err)
	assert.Positive(t, pk.Position)
	assert.Less(t, p.Stats().Skips, int64(100), "the packets before it came are not its skips (200 or more)")
}
