//go:build cgo

package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// twoCores makes GOMAXPROCS at least 2 for the test: a track is pipelined
// only then.
func twoCores(t *testing.T) {
	if n := runtime.GOMAXPROCS(0); n < 2 {
		runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(n) })
	}
}

// transcoded is what a track made of its source: its packets, copied, the
// error its readers got after them (nil for a clean end), and whether it
// ran pipelined.
type transcoded struct {
	packets [][]byte
	err     error
	piped   bool
}

// transcode makes a track of src with opts, in a pool of two slots of its
// own unless opts set one, and reads it to its end.
func transcode(t *testing.T, src io.Reader, opts ...pipeline.TrackOption) transcoded {
	t.Helper()
	tr, err := pipeline.NewTrack(src, append([]pipeline.TrackOption{pipeline.WithPool(pipeline.NewPool(2))}, opts...)...)
	require.NoError(t, err)
	defer tr.Close()
	var out transcoded
	cur := tr.NewCursor()
	for {
		p, err := cur.NextContext(context.Background())
		if err != nil {
			if err != io.EOF {
				out.err = err
			}
			break
		}
		out.packets = append(out.packets, bytes.Clone(p.Data))
	}
	out.piped = pipeline.Pipelined(tr)
	return out
}

// serialAndPipelined transcodes the source that open makes, serially and
// pipelined, and checks that the second was pipelined and the first not.
func serialAndPipelined(t *testing.T, open func() io.Reader, opts ...pipeline.TrackOption) (serial, piped transcoded) {
	t.Helper()
	twoCores(t)
	serial = transcode(t, open(), append(opts, pipeline.WithPipelined(false))...)
	piped = transcode(t, open(), opts...)
	require.False(t, serial.piped, "WithPipelined(false) runs serially")
	require.True(t, piped.piped, "pipelined with two cores and two free slots")
	return serial, piped
}

// A pipelined track's packets are the serial one's, byte for byte: the
// encoder reads the same PCM. MP3 with each engine (MPEG-1, VBR, MPEG-2
// padded, MPEG-2.5 at 8 kHz mono), WAV and FLAC at 44.1 kHz and at 48
// kHz, raw PCM, a mono encode, frames of 2.5 ms (eight to a buffer) and
// of 60 ms, and filtered chains, over MP3 and over Ogg Opus and WebM
// (which a filter makes decoded and encoded again).
func TestPipelinedSameBytes(t *testing.T) {
	filters := transform.Chain{
		Volume:    &transform.VolumeConfig{Volume: 0.8},
		Timescale: &transform.TimescaleConfig{Speed: 1.25, Pitch: 1, Rate: 1},
		Tremolo:   &transform.TremoloConfig{Frequency: 4, Depth: 0.5},
	}
	raw := transform.Format{Rate: 22050, Channels: 1, Encoding: transform.S16LE}
	for _, tc := range []struct {
		name string
		file string
		opts []pipeline.TrackOption
	}{
		{"mp3 native", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithMP3Engine(mp3.Native)}},
		{"mp3 go-mp3", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithMP3Engine(mp3.GoMP3)}},
		{"mp3 vbr", "prog_vbr.mp3", nil},
		{"mp3 vbr go-mp3", "prog_vbr.mp3", []pipeline.TrackOption{pipeline.WithMP3Engine(mp3.GoMP3)}},
		{"mp3 mpeg-2 padded", "prog_22050_32k.mp3", nil},
		{"mp3 mpeg-2.5", "prog_8000_mono.mp3", nil},
		{"mp3 48 kHz", "prog_48000.mp3", nil},
		{"wav 44.1 kHz", "tone_s24_44100_2.wav", nil},
		{"wav 48 kHz", "tone_f32_48000_2.wav", nil},
		{"flac 44.1 kHz", "tone_s24_44100_2.flac", nil},
		{"flac 48 kHz", "tone1k_s16_48000_2.flac", nil},
		{"raw", "", []pipeline.TrackOption{pipeline.WithRawPCM(raw)}},
		{"mono", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithChannels(1)}},
		{"2.5 ms", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithFrameDuration(2500 * time.Microsecond)}},
		{"60 ms", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithFrameDuration(60 * time.Millisecond)}},
		{"filtered mp3", "prog_cbr128.mp3", []pipeline.TrackOption{pipeline.WithFilters(filters)}},
		{"filtered ogg", "prog.opus", []pipeline.TrackOption{pipeline.WithFilters(filters)}},
		{"filtered webm", "prog.webm", []pipeline.TrackOption{pipeline.WithFilters(filters)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			if tc.file == "" {
				data = testutil.Tone(raw.Rate, raw.Channels, 2*raw.Rate, 440, 0.5)
			} else {
				data = testutil.Fixture(t, tc.file)
			}
			serial, piped := serialAndPipelined(t, func() io.Reader { return bytes.NewReader(data) }, tc.opts...)
			require.NoError(t, serial.err)
			require.NoError(t, piped.err)
			require.GreaterOrEqual(t, len(serial.packets), 6) // 0.1 s for the shortest
			assert.Equal(t, serial.packets, piped.packets, "the same packets, byte for byte")
		})
	}
}

// failAfter gives data, then fails with err.
func failAfter(data []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(err))
}

// A source's error ends a pipelined track as it ends a serial one: the
// same packets, then the same error. A source that fails midway, one
// truncated (inside a frame), one damaged (bytes overwritten midway: the
// decoder skips them), one read a byte at a time, one that stalls.
func TestPipelinedSourceErrors(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	wav := testutil.Fixture(t, "tone_s24_44100_2.wav")
	boom := errors.New("network down")
	damaged := bytes.Clone(data)
	for i := len(data) / 2; i < len(data)/2+700; i++ {
		damaged[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		open func() io.Reader
		err  error // what the track ends with; nil: a clean end
		opts []pipeline.TrackOption
	}{
		{"fails midway", func() io.Reader { return failAfter(data[:len(data)/2], boom) }, boom, nil},
		{"fails midway, wav", func() io.Reader { return failAfter(wav[:len(wav)/2+1], boom) }, boom, nil},
		{"truncated", func() io.Reader { return bytes.NewReader(data[:len(data)/2+100]) }, io.ErrUnexpectedEOF, nil},
		{"truncated wav", func() io.Reader { return bytes.NewReader(wav[:len(wav)/2+1]) }, io.ErrUnexpectedEOF, nil},
		{"damaged", func() io.Reader { return bytes.NewReader(damaged) }, mp3.ErrCorrupt, nil},
		{"damaged go-mp3", func() io.Reader { return bytes.NewReader(damaged) }, mp3.ErrCorrupt, []pipeline.TrackOption{pipeline.WithMP3Engine(mp3.GoMP3)}},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, nil, nil},
		{"stalls", func() io.Reader { return newBlockingSource(data[:len(data)/2]) }, pipeline.ErrStalled,
			[]pipeline.TrackOption{pipeline.WithStallTimeout(200 * time.Millisecond), pipeline.WithName("stalling")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial, piped := serialAndPipelined(t, tc.open, tc.opts...)
			if tc.err == nil {
				require.NoError(t, serial.err)
			} else {
				require.ErrorIs(t, serial.err, tc.err)
			}
			require.NotEmpty(t, serial.packets)
			assert.Equal(t, serial.packets, piped.packets, "the same packets before the end")
			if serial.err == nil {
				assert.NoError(t, piped.err)
			} else if assert.Error(t, piped.err) {
				assert.Equal(t, serial.err.Error(), piped.err.Error(), "the same error")
				assert.ErrorIs(t, piped.err, tc.err)
			}
		})
	}
}

// blockingSource gives data, then blocks in Read until Close; that Read
// then returns after a while (a source slow to notice), and records it.
type blockingSource struct {
	r        io.Reader
	blocked  chan struct{} // closed when a Read blocks
	closed   chan struct{} // closed by Close
	returned atomic.Bool   // the blocked Read has returned
	once     sync.Once
	bonce    sync.Once
}

func newBlockingSource(data []byte) *blockingSource {
	return &blockingSource{r: bytes.NewReader(data), blocked: make(chan struct{}), closed: make(chan struct{})}
}

func (s *blockingSource) Read(p []byte) (int, error) {
	if n, err := s.r.Read(p); err != io.EOF {
		return n, err
	}
	s.bonce.Do(func() { close(s.blocked) })
	<-s.closed
	time.Sleep(50 * time.Millisecond)
	s.returned.Store(true)
	return 0, errors.New("closed")
}

func (s *blockingSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// Close of a pipelined track whose decoding is blocked in its source's
// Read returns, once that Read has returned: it closes the source (here
// directly, without a stall watchdog, and through one), and waits for the
// decode goroutine. No goroutine is left (goleak, in TestMain).
func TestPipelinedCloseWhileReadBlocks(t *testing.T) {
	twoCores(t)
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	for _, stall := range []time.Duration{0, time.Hour} {
		t.Run(map[time.Duration]string{0: "no watchdog", time.Hour: "watchdog"}[stall], func(t *testing.T) {
			src := newBlockingSource(data[:len(data)/2])
			tr, err := pipeline.NewTrack(src, pipeline.WithPool(pipeline.NewPool(2)), pipeline.WithStallTimeout(stall))
			require.NoError(t, err)
			select {
			case <-src.blocked:
			case <-time.After(time.Minute):
				t.Fatal("the source's Read did not block")
			}
			<-tr.Ready()
			require.True(t, pipeline.Pipelined(tr))
			closed := make(chan error, 1)
			go func() { closed <- tr.Close() }()
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(time.Minute):
				t.Fatal("Close did not return")
			}
			if stall == 0 {
				assert.True(t, src.returned.Load(), "Close returned after the decoding's Read")
			}
		})
	}
}

// Close of a pipelined track while it encodes returns, whatever the
// decode goroutine does then (decoding, waiting on the full queue or for
// a slot); it ends the goroutine (goleak), and a second Close is fine.
// The source is endless PCM (see endless), which the decoding (a
// resampling) makes faster than the encoder takes it: the decode
// goroutine waits on a full queue most of the time.
func TestPipelinedCloseWhileRunning(t *testing.T) {
	twoCores(t)
	f := transform.Format{Rate: 44100, Channels: 2, Encoding: transform.S16LE}
	for i := range 20 {
		tr, err := pipeline.NewTrack(&endless{}, pipeline.WithRawPCM(f), pipeline.WithPool(pipeline.NewPool(2)))
		require.NoError(t, err)
		cur := tr.NewCursor()
		for range 2 + i*5 { // the second packet: the decoding goroutine has started
			_, err := cur.NextContext(context.Background())
			require.NoError(t, err)
		}
		require.True(t, pipeline.Pipelined(tr))
		require.NoError(t, tr.Close())
		require.NoError(t, tr.Close())
		_, err = cur.Next()
		assert.ErrorIs(t, err, pipeline.ErrClosed)
	}
}

// A pool of one slot runs a track serially; a pipelined track whose pool
// loses a slot to someone else (here held from the start of its encode
// on) goes on by turns in the one left; tracks that share a pool of two
// all finish, each with its serial packets. No deadlock in any.
func TestPipelinedPoolSlots(t *testing.T) {
	twoCores(t)
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	want := transcode(t, bytes.NewReader(data), pipeline.WithPipelined(false))
	require.NoError(t, want.err)

	t.Run("one slot", func(t *testing.T) {
		got := transcode(t, bytes.NewReader(data), pipeline.WithPool(pipeline.NewPool(1)))
		require.NoError(t, got.err)
		assert.False(t, got.piped, "no second slot: serial")
		assert.Equal(t, want.packets, got.packets)
	})
	t.Run("by turns", func(t *testing.T) {
		pool := pipeline.NewPool(2)
		src := newGatedReader(data, 16<<10)
		tr, err := pipeline.NewTrack(src, pipeline.WithPool(pool))
		require.NoError(t, err)
		defer tr.Close()
		<-src.reached // a second of audio read: built, pipelined
		require.True(t, pipeline.Pipelined(tr))
		release := pipeline.HoldSlot(pool)
		close(src.open)
		got := packetsWithin(t, tr, 5*time.Minute)
		release()
		assert.True(t, pipeline.Pipelined(tr))
		assert.Equal(t, want.packets, got)
		assert.Equal(t, 2, pool.Stats().Slots)
	})
	t.Run("shared", func(t *testing.T) {
		pool := pipeline.NewPool(2)
		var wg sync.WaitGroup
		got := make([][][]byte, 4)
		for i := range got {
			tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithPool(pool))
			require.NoError(t, err)
			defer tr.Close()
			wg.Go(func() { got[i] = packetsWithin(t, tr, 5*time.Minute) })
		}
		wg.Wait()
		for i := range got {
			assert.Equal(t, want.packets, got[i], "track %d", i)
		}
		assert.Zero(t, pool.Stats().Busy)
	})
}

// packetsWithin reads every packet of tr through a new cursor, failing
// if that takes more than d (a deadlock: a bound ten times and more what
// a slow machine needs).
func packetsWithin(t *testing.T, tr *pipeline.Track, d time.Duration) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cur := tr.NewCursor()
	var out [][]byte
	for {
		p, err := cur.NextContext(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Errorf("packet %d: %v", len(out), err)
			return out
		}
		out = append(out, p.Data)
	}
}

// gatedReader gives the first n bytes of data, then waits for open
// before the rest, which it gives 100 bytes a Read (so that a buffer's
// decoding reads its source, and gives its slot back meanwhile, many
// times); reached is closed when it waits.
type gatedReader struct {
	r       io.Reader
	n       int
	open    chan struct{}
	reached chan struct{}
	once    sync.Once
}

func newGatedReader(data []byte, n int) *gatedReader {
	return &gatedReader{r: bytes.NewReader(data), n: n, open: make(chan struct{}), reached: make(chan struct{})}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.n > 0 {
		k, err := g.r.Read(p[:min(len(p), g.n)])
		g.n -= k
		return k, err
	}
	g.once.Do(func() { close(g.reached) })
	<-g.open
	return g.r.Read(p[:min(len(p), 100)])
}

// A seek past what a pipelined track has encoded is made from a segment
// as a serial track's is (seekAheadEncoded), in a pool of three slots: the
// track's two and the segment's.
func TestPipelinedSeekAhead(t *testing.T) {
	twoCores(t)
	length, target := 2*time.Minute, 90*time.Second
	if testing.Short() {
		length, target = time.Minute, 45*time.Second
	}
	o := &heldOpener{data: longMP3(t, length), head: 200 << 10, released: make(chan struct{})}
	piped := seekAheadEncoded(t, o, target, pipeline.WithTrackOptions(pipeline.WithPool(pipeline.NewPool(3))))
	assert.True(t, piped, "the track's encode ran pipelined")
}

// A Library's tracks are pipelined unless WithTrackOptions says
// WithPipelined(false); the Library's Close returns once the decoding of
// a pipelined track, blocked in its source's Read, has ended.
func TestPipelinedLibrary(t *testing.T) {
	twoCores(t)
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	for _, on := range []bool{true, false} {
		lib := pipeline.NewLibrary(pipeline.WithOpener(func(context.Context, string) (io.Reader, error) {
			return bytes.NewReader(data), nil
		}), pipeline.WithTrackOptions(pipeline.WithPool(pipeline.NewPool(2)), pipeline.WithPipelined(on)))
		h, err := lib.Get(context.Background(), pipeline.Key{Source: "x"})
		require.NoError(t, err)
		finished(t, h)
		assert.Equal(t, on, pipeline.Pipelined(h.Track()))
		h.Release()
		lib.Close()
	}

	src := newBlockingSource(data[:len(data)/2])
	lib := pipeline.NewLibrary(pipeline.WithOpener(func(context.Context, string) (io.Reader, error) { return src, nil }),
		pipeline.WithTrackOptions(pipeline.WithPool(pipeline.NewPool(2)), pipeline.WithStallTimeout(0)))
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "blocks"})
	require.NoError(t, err)
	select {
	case <-src.blocked:
	case <-time.After(time.Minute):
		t.Fatal("the source's Read did not block")
	}
	require.True(t, pipeline.Pipelined(h.Track()))
	h.Release()
	closed := make(chan error, 1)
	go func() { closed <- lib.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("the Library's Close did not return")
	}
	assert.True(t, src.returned.Load(), "Close returned after the decoding's Read")
}

// A pipelined track allocates no more than a serial one: no more objects,
// and no more bytes beyond a kilobyte a track (it takes the decoding's
// state once a buffer, where a serial track takes it once a packet, which
// leaves it about 20 KB below); its buffers are made once, and kept for
// the next track (a buffer a frame would be 0.6 MB more). The allocations
// of a whole track of the 3 s fixture (151 packets), the process's tables
// already made, the least of three.
func TestPipelinedAllocations(t *testing.T) {
	twoCores(t)
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	allocs := func(on bool) (objects, size uint64) {
		one := func() {
			tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithPool(pipeline.NewPool(2)), pipeline.WithPipelined(on))
			require.NoError(t, err)
			<-tr.Done()
			require.NoError(t, tr.Err())
			require.Equal(t, on, pipeline.Pipelined(tr))
			require.NoError(t, tr.Close())
		}
		one()
		objects, size = ^uint64(0), ^uint64(0)
		for range 3 {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			one()
			runtime.ReadMemStats(&m1)
			objects, size = min(objects, m1.Mallocs-m0.Mallocs), min(size, m1.TotalAlloc-m0.TotalAlloc)
		}
		return objects, size
	}
	so, sb := allocs(false)
	po, pb := allocs(true)
	t.Logf("allocations of a track: %d objects, %d bytes serial; %d objects, %d bytes pipelined", so, sb, po, pb)
	assert.LessOrEqual(t, po, so, "objects")
	assert.LessOrEqual(t, pb, sb+1024, "bytes")
}
