package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// counting counts the bytes read through it.
type counting struct {
	r io.Reader
	n atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func newTrack(t *testing.T, src io.Reader, opts ...pipeline.TrackOption) *pipeline.Track {
	t.Helper()
	tr, err := pipeline.NewTrack(src, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// packets reads every packet of a track through a new cursor.
func packets(t testing.TB, tr *pipeline.Track) [][]byte {
	t.Helper()
	cur := tr.NewCursor()
	var out [][]byte
	for {
		p, err := cur.NextContext(context.Background())
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, p.Data)
	}
}

func TestTrackFixtures(t *testing.T) {
	for _, tc := range []struct {
		file    string
		samples int64
		kind    codec.Kind
		title   string
	}{
		{"prog_cbr128.mp3", 144000, codec.KindMP3, ""},
		{"prog_vbr.mp3", 144000, codec.KindMP3, ""},
		{"prog_id3.mp3", 144000, codec.KindMP3, "Known Title"},
		{"prog_22050_mono.mp3", 144000, codec.KindMP3, ""},
		{"prog_48000.mp3", 144000, codec.KindMP3, ""},
		{"prog_crc.mp3", 144000, codec.KindMP3, ""},
		{"prog.opus", 144000, codec.KindOggOpus, ""},
		{"tone_s16_44100_1.wav", 48000, codec.KindWAV, ""},
		{"tone_s24_44100_2.wav", 48000, codec.KindWAV, ""},
		{"tone_f32_48000_2.wav", 48000, codec.KindWAV, ""},
		{"pipe_s16_48000_1.wav", 48000, codec.KindWAV, ""},
		{"tone_s16_44100_1.flac", 12000, codec.KindFLAC, ""},   // 11025 at 44.1 kHz
		{"tone1k_s16_48000_2.flac", 12000, codec.KindFLAC, ""}, // as it is
		{"tone_s24_44100_2.flac", 4800, codec.KindFLAC, ""},    // 4410 at 44.1 kHz
		{"tone_u8_22050_1.flac", 11999, codec.KindFLAC, ""},    // 5512 at 22.05 kHz: 249.98 ms
		{"tone1k_s16_48000_2_noseek.flac", 12000, codec.KindFLAC, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, tc.file)), pipeline.WithName(tc.file))
			<-tr.Done()
			require.NoError(t, tr.Err())
			require.True(t, tr.Finished())
			x, _ := tr.Index()
			assert.Equal(t, tc.samples, x.DurationSamples(), "exact to the sample")
			d, exact := tr.Duration()
			assert.True(t, exact)
			assert.Equal(t, opus.Duration(tc.samples), d)
			m := tr.Metadata()
			assert.Equal(t, tc.kind, m.Kind)
			assert.Equal(t, tc.file, m.Name)
			assert.Equal(t, tc.title, m.Title)
			assert.Equal(t, 2, m.Channels)
			assert.Equal(t, 20*time.Millisecond, m.Frame)
		})
	}
}

// Tracks built with the Native MP3 decoder: exact to the sample as with
// go-mp3, mono made stereo; and the fixtures go-mp3 refuses (padded
// MPEG-2 frames, MPEG-2.5), which have no LAME tag, so that their length
// is the frames' (44 or 117 frames of 576 samples, less the decoder's 529,
// at 48 kHz), not exact.
func TestTrackMP3Native(t *testing.T) {
	for _, tc := range []struct {
		file    string
		samples int64
		exact   bool
	}{
		{"prog_cbr128.mp3", 144000, true},
		{"prog_vbr.mp3", 144000, true},
		{"prog_22050_mono.mp3", 144000, true},
		{"prog_22050_32k.mp3", (117*576 - 529) * 48000 / 22050, false},
		{"prog_8000_mono.mp3", (44*576 - 529) * 6, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, tc.file)), pipeline.WithMP3Engine(mp3.Native))
			<-tr.Done()
			require.NoError(t, tr.Err())
			require.True(t, tr.Finished())
			x, _ := tr.Index()
			if tc.exact {
				assert.Equal(t, tc.samples, x.DurationSamples(), "exact to the sample")
			} else {
				assert.InDelta(t, tc.samples, x.DurationSamples(), 960, "within a packet")
			}
			m := tr.Metadata()
			assert.Equal(t, codec.KindMP3, m.Kind)
			assert.Equal(t, 2, m.Channels)
		})
	}
}

// oggPackets returns the Opus packets of an Ogg Opus file, copied.
func oggPackets(t *testing.T, data []byte) [][]byte {
	t.Helper()
	return demuxPackets(t, ogg.NewOpusDemuxer(), data)
}

// demuxPackets returns the packets d gives of data, copied.
func demuxPackets(t *testing.T, d framed.PacketSource, data []byte) [][]byte {
	t.Helper()
	src := bytes.NewReader(data)
	var all [][]byte
	for {
		p, err := d.NextPacket(src)
		if err == io.EOF {
			return all
		}
		require.NoError(t, err)
		all = append(all, bytes.Clone(p))
	}
}

// Ogg Opus is framed as it is: the packets are the file's, byte for byte.
func TestTrackOggOpusAsItIs(t *testing.T) {
	data := testutil.Fixture(t, "prog.opus")
	want := oggPackets(t, data)
	tr := newTrack(t, bytes.NewReader(data))
	assert.Equal(t, want, packets(t, tr))
	m := tr.Metadata()
	assert.Zero(t, m.Bitrate, "not re-encoded")
}

func TestTrackRawPCM(t *testing.T) {
	f := transform.Format{Rate: 16000, Channels: 1, Encoding: transform.F32LE}
	tr := newTrack(t, bytes.NewReader(testutil.Tone(16000, 1, 16000, 440, 0.5)), pipeline.WithRawPCM(f), pipeline.WithChannels(1))
	<-tr.Done()
	require.NoError(t, tr.Err())
	x, _ := tr.Index()
	assert.Equal(t, int64(48000), x.DurationSamples())
	assert.Equal(t, codec.KindRaw, tr.Metadata().Kind)
}

// One encode, a hundred listeners reading while it goes on, each getting
// every packet.
func TestTrackManyReadersOneEncode(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	src := &counting{r: iotest.HalfReader(bytes.NewReader(data))}
	tr := newTrack(t, src)
	const readers = 100
	got := make([][][]byte, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = packets(t, tr)
		}()
	}
	wg.Wait()
	require.NoError(t, tr.Err())
	want := packets(t, tr)
	require.Len(t, want, (144000+312+959)/960)
	for i := range readers {
		require.Equal(t, want, got[i], "reader %d", i)
	}
	assert.Equal(t, int64(len(data)), src.n.Load(), "the source is read once: one decode, one encode")
}

// A source that fails mid-track: every packet before the failure is
// there, and the error comes after them, not before.
func TestTrackSourceFailsMidway(t *testing.T) {
	data := testutil.Fixture(t, "prog_48000.mp3")
	whole := newTrack(t, bytes.NewReader(data))
	all := packets(t, whole)

	boom := errors.New("network down")
	tr := newTrack(t, io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom)))
	cur := tr.NewCursor()
	var got [][]byte
	var err error
	for {
		var p framed.Packet
		p, err = cur.NextContext(context.Background())
		if err != nil {
			break
		}
		got = append(got, p.Data)
	}
	assert.ErrorIs(t, err, boom)
	assert.Greater(t, len(got), len(all)/3, "the first half plays")
	assert.Less(t, len(got), len(all))
	for i := range got[:len(got)-3] { // the encoder's last packets before the cut may differ
		assert.Equal(t, all[i], got[i], "packet %d", i)
	}
	d, exact := tr.Duration()
	assert.False(t, exact)
	assert.Positive(t, d)
}

// Through an HTTP source that drops the connection, the track is the same
// as from the bytes.
func TestTrackHTTPResume(t *testing.T) {
	data := testutil.Fixture(t, "prog_vbr.mp3")
	want := packets(t, newTrack(t, bytes.NewReader(data)))
	f := &flaky{content: func(int) ([]byte, string) { return data, `"v1"` }, drop: 5_000, drops: 3}
	s := pipeline.OpenHTTP(context.Background(), serve(t, f), fastRetry)
	tr := newTrack(t, s)
	assert.Equal(t, want, packets(t, tr), "no lost or repeated audio")
	n, _, _ := f.stats()
	assert.Equal(t, 4, n)
}

// Close while encoding stops the work: the command is killed, its process
// group is gone, no goroutine is left (goleak, in TestMain).
func TestTrackCloseWhileEncoding(t *testing.T) {
	// A command that writes PCM forever (an endless live source).
	cmd := exec.Command("sh", "-c", "while :; do head -c 192000 /dev/zero; done")
	tr := newTrack(t, pipeline.NewCommandSource(cmd), pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}),
		pipeline.WithLive(2*time.Second))
	cur := tr.NewCursor()
	_, err := cur.NextContext(context.Background())
	require.NoError(t, err)
	pgid := cmd.Process.Pid
	require.NoError(t, tr.Close())
	_, err = cur.Next()
	assert.ErrorIs(t, err, catcher.ErrClosed)
	require.Eventually(t, func() bool { return groupGone(pgid) }, 10*time.Second, 10*time.Millisecond)
}

// A command that fails carries its stderr to the track's readers.
func TestTrackCommandFails(t *testing.T) {
	cmd := exec.Command("sh", "-c", "head -c 19200 /dev/zero; echo 'decoder: invalid data found' >&2; exit 1")
	tr := newTrack(t, pipeline.NewCommandSource(cmd), pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}))
	got := 0
	cur := tr.NewCursor()
	var err error
	for {
		if _, err = cur.NextContext(context.Background()); err != nil {
			break
		}
		got++
	}
	assert.ErrorIs(t, err, pipeline.ErrCommand)
	assert.Contains(t, err.Error(), "invalid data found")
	assert.Equal(t, 5, got, "the 100 ms it wrote first, in 20 ms packets")
}

func TestTrackOptions(t *testing.T) {
	for _, opt := range []pipeline.TrackOption{pipeline.WithChannels(3), pipeline.WithBitrate(1), pipeline.WithFrameDuration(7 * time.Millisecond)} {
		_, err := pipeline.NewTrack(bytes.NewReader(nil), opt)
		assert.ErrorIs(t, err, transform.ErrFormat)
	}
	assert.Panics(t, func() { pipeline.WithLive(0) })
}

// With the pool saturated by tracks that only preload, a track a listener
// waits for goes first.
func TestPoolListenerFirst(t *testing.T) {
	pool := pipeline.NewPool(1)
	long := testutil.Tone(48000, 2, 48000*30, 440, 0.5) // 30 s each
	f := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}
	var preloading []*pipeline.Track
	for range 3 {
		preloading = append(preloading, newTrack(t, bytes.NewReader(long), pipeline.WithPool(pool), pipeline.WithRawPCM(f)))
	}
	require.Eventually(t, func() bool { return pool.Stats().Waiting >= 2 }, 10*time.Second, time.Millisecond)

	// A wanted track may find the slot free (the preloading tracks give
	// it back while they read their sources, and a busy machine may hold
	// all three there): it is tried again until one finds tracks waiting
	// and goes ahead of them.
	for try := 1; ; try++ {
		start := time.Now()
		wanted := newTrack(t, bytes.NewReader(long), pipeline.WithPool(pool), pipeline.WithRawPCM(f))
		_, err := wanted.NewCursor().NextContext(context.Background())
		require.NoError(t, err)
		first := time.Since(start)
		for _, tr := range preloading {
			assert.False(t, tr.Finished(), "the listener's track got its packet before the preloads finished")
		}
		if pool.Stats().Jumped > 0 || try == 10 {
			assert.Positive(t, pool.Stats().Jumped, "it went ahead of tracks that came before it (%d tries)", try)
			t.Logf("first packet after %v with the pool saturated (try %d)", first, try)
			return
		}
	}
}

// endless is a source of PCM that never ends: a 440 Hz tone, s16 stereo.
type endless struct{ i int64 }

func (e *endless) Read(p []byte) (int, error) {
	n := len(p) &^ 3
	for k := 0; k < n; k += 4 {
		v := int16(16000 * sinTable[e.i%109])
		p[k], p[k+1], p[k+2], p[k+3] = byte(v), byte(v>>8), byte(v), byte(v>>8)
		e.i++
	}
	return n, nil
}

var sinTable = func() (t [109]float64) {
	for i := range t {
		t[i] = float64(i%54) / 54 // a sawtooth: cheap, not silent
	}
	return t
}()

// A live track runs for a long time with bounded memory; a reader left
// behind is told and skips to the oldest packet.
func TestLiveTrackBoundedMemory(t *testing.T) {
	run := 3 * time.Minute
	if testing.Short() {
		run = 40 * time.Second
	}
	tr := newTrack(t, &endless{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithLive(5*time.Second), pipeline.WithPacing(nil),
		pipeline.WithPool(pipeline.NewPool(1)))
	cur := tr.NewCursor()
	var maxResident int64
	skips := 0
	for tr.Progress() < run {
		_, err := cur.NextContext(context.Background())
		if errors.Is(err, catcher.ErrEvicted) {
			skips++
			cur.SkipToOldest()
			continue
		}
		require.NoError(t, err)
		if cur.Pos()%500 == 0 {
			maxResident = max(maxResident, tr.Resident())
			// Fall behind now and then, as a slow listener does: wait
			// until the window has moved past this reader.
			if cur.Pos()%1000 == 0 {
				deadline := time.Now().Add(30 * time.Second)
				for x, _ := tr.Index(); x.First() <= cur.Pos() && time.Now().Before(deadline); x, _ = tr.Index() {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
	}
	x, _ := tr.Index()
	t.Logf("%v encoded, %d packets, index from %d, max resident %d bytes, %d skips", tr.Progress(), x.Packets(), x.First(), maxResident, skips)
	assert.Less(t, maxResident, int64(512<<10), "bounded")
	assert.Positive(t, x.First(), "the index forgets")
	assert.Positive(t, skips, "the listener fell behind the window and skipped ahead")
	d, exact := tr.Duration()
	assert.False(t, exact, "a live track has no duration")
	assert.Positive(t, d)
	assert.True(t, tr.Metadata().Live)
}

// PCM from a track: from the start, exactly the track's length; from a
// seek, with the pre-roll done, it matches decoding from the start.
func TestPCMReader(t *testing.T) {
	tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "tone1k_s16_48000_2.wav")), pipeline.WithBitrate(128000))
	r, err := tr.NewPCMReader()
	require.NoError(t, err)
	full, err := io.ReadAll(r) // read while encoding: it waits
	require.NoError(t, err)
	require.Len(t, full, 48000*4, "one second exactly")
	ref := testutil.Channel(full, transform.S16LE, 2, 0)
	assert.InDelta(t, 0.5, testutil.Amplitude(ref, 48000, 1000, 4800, 43200), 0.05)

	for _, at := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 990 * time.Millisecond} {
		r.Seek(at)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		from := int(opus.Samples(at))
		require.Len(t, got, len(full)-from*4, "seek to %v", at)
		g := testutil.Channel(got, transform.S16LE, 2, 0)
		if at < 900*time.Millisecond { // the last 10 ms are too short a window to measure
			snr := testutil.SNR(ref[from:], g, 0, len(g))
			t.Logf("seek to %v: SNR %.1f dB", at, snr)
			assert.GreaterOrEqual(t, snr, 25.0, "after a seek to %v, the same audio", at)
		}
	}
	r.Seek(2 * time.Second)
	n, err := r.Read(make([]byte, 64))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err)

	// Float at the source's rate.
	r, err = tr.NewPCMReader(pipeline.WithPCMFormat(transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}))
	require.NoError(t, err)
	f, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Len(t, f, 44100*8)
	_, err = tr.NewPCMReader(pipeline.WithPCMFormat(transform.Format{Rate: 48000, Channels: 3}))
	assert.ErrorIs(t, err, transform.ErrFormat)
}

// PCM read while the track is still being encoded ends exactly at the
// track's end, learnt only when the encoding finishes.
func TestPCMReaderWhileEncoding(t *testing.T) {
	data := testutil.Fixture(t, "tone1k_s16_48000_2.wav")
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(data); off += 19200 {
			pw.Write(data[off:min(off+19200, len(data))])
			time.Sleep(5 * time.Millisecond)
		}
		pw.Close()
	}()
	tr := newTrack(t, pr)
	r, err := tr.NewPCMReader()
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Len(t, got, 48000*4)
}

// A track's resident bytes: its packets and index once encoded, in one
// store; the encoder and the rest while it encodes.
func TestTrackResident(t *testing.T) {
	secs := 180
	if testing.Short() {
		secs = 30
	}
	pcm := io.LimitReader(&endless{}, int64(secs*48000*4))
	tr := newTrack(t, pcm, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithCBR(true))
	_, err := tr.NewCursor().NextContext(context.Background())
	require.NoError(t, err)
	st := tr.Catcher().Stats()
	if !st.Finished {
		assert.Greater(t, st.Resident-st.Allocated, int64(30<<10), "the encoder is counted while it runs")
	}
	<-tr.Done()
	require.NoError(t, tr.Err())
	st = tr.Catcher().Stats()
	x, _ := tr.Index()
	assert.Equal(t, 1, st.Chunks, "one store once encoded")
	assert.Equal(t, st.Len, st.Allocated, "no chunk left part empty")
	assert.Equal(t, st.Len+x.Size(), tr.Resident(), "the packets and the index, nothing else")
	perSecond := float64(st.Len) / float64(secs)
	t.Logf("%d s at 128 kbit/s: %d bytes of packets (%.0f a second), index %d bytes", secs, st.Len, perSecond, x.Size())
	assert.InDelta(t, 128000/8+50*2, perSecond, 1000, "128 kbit/s and the prefixes")
}
