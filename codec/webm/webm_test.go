package webm_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// reference is what ffmpeg reads out of a fixture (testdata/webm_ffmpeg.txt,
// written by make.sh).
type reference struct {
	samples int64  // decoded, after the pre-skip and the DiscardPadding
	sha256  string // of the packets end to end
	sizes   []int
}

func references(t *testing.T) map[string]reference {
	t.Helper()
	refs := map[string]reference{}
	sc := bufio.NewScanner(bytes.NewReader(testutil.Fixture(t, "webm_ffmpeg.txt")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 4, "line %q", sc.Text())
		n, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		r := reference{samples: n, sha256: f[2]}
		for _, s := range strings.Split(f[3], ",") {
			v, err := strconv.Atoi(s)
			require.NoError(t, err)
			r.sizes = append(r.sizes, v)
		}
		refs[f[0]] = r
	}
	require.NoError(t, sc.Err())
	require.Len(t, refs, 6)
	return refs
}

// demux reads every packet of src, and the error that ended them (nil
// for io.EOF).
func demux(d *webm.OpusDemuxer, src io.Reader) ([][]byte, error) {
	var ps [][]byte
	for {
		p, err := d.NextPacket(src)
		if err == io.EOF {
			return ps, nil
		}
		if err != nil {
			return ps, err
		}
		ps = append(ps, bytes.Clone(p))
	}
}

func summary(ps [][]byte) (string, []int) {
	h := sha256.New()
	sizes := make([]int, 0, len(ps))
	for _, p := range ps {
		h.Write(p)
		sizes = append(sizes, len(p))
	}
	return hex.EncodeToString(h.Sum(nil)), sizes
}

// TestFixtures demuxes each fixture, read whole and a byte at a time,
// and compares its packets and length with ffmpeg's.
func TestFixtures(t *testing.T) {
	refs := references(t)
	for _, c := range []struct {
		file          string
		channels      uint8
		title, artist string
	}{
		{"prog.webm", 2, "Known Title", "Known Artist"},
		{"prog_mono_pipe.webm", 1, "", ""},
		{"prog_laced.mka", 2, "Known Title", ""}, // the title in the Info; the Tags after the Clusters
		{"prog_xiph.webm", 2, "", ""},
		{"prog_ebml.webm", 2, "", ""},
		{"prog_unknownsize.webm", 2, "Known Title", "Known Artist"},
	} {
		ref := refs[c.file]
		data := testutil.Fixture(t, c.file)
		for _, rd := range []struct {
			name string
			r    func() io.Reader
		}{
			{"whole", func() io.Reader { return bytes.NewReader(data) }},
			{"byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }},
			{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }},
		} {
			t.Run(c.file+"/"+rd.name, func(t *testing.T) {
				d := webm.NewOpusDemuxer()
				assert.Equal(t, int64(-1), d.Length(), "unknown before the end")
				ps, err := demux(d, rd.r())
				require.NoError(t, err)
				sum, sizes := summary(ps)
				assert.Equal(t, ref.sizes, sizes, "packet sizes, as ffprobe shows them")
				assert.Equal(t, ref.sha256, sum, "the packets, as ffmpeg copies them")
				assert.Equal(t, ref.samples, d.Length(), "the length ffmpeg decodes")
				assert.Equal(t, int64(312), d.PreSkip())

				info, ok := d.Info()
				require.True(t, ok)
				assert.Equal(t, info, d.State())
				assert.Equal(t, c.channels, info.Head.Channels)
				assert.Equal(t, uint32(48000), info.Head.InputRate)
				assert.Equal(t, c.title, comment(info.Tags, "TITLE"))
				assert.Equal(t, c.artist, comment(info.Tags, "ARTIST"))
				_, err = d.NextPacket(rd.r())
				assert.Equal(t, io.EOF, err, "io.EOF again after the end")
			})
		}
	}
}

func comment(t ogg.OpusTags, name string) string {
	for _, c := range t.Comments {
		if k, v, ok := strings.Cut(c, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// TestDuration: Info's Duration, where the file has one.
func TestDuration(t *testing.T) {
	d := webm.NewOpusDemuxer()
	_, ok := d.Duration()
	assert.False(t, ok, "unknown before the headers")
	require.NoError(t, d.ReadHeaders(bytes.NewReader(testutil.Fixture(t, "prog.webm"))))
	dur, ok := d.Duration()
	require.True(t, ok)
	assert.InDelta(t, 3.0, dur.Seconds(), 0.02, "ffmpeg's Duration")

	d = webm.NewOpusDemuxer()
	require.NoError(t, d.ReadHeaders(bytes.NewReader(testutil.Fixture(t, "prog_mono_pipe.webm"))))
	_, ok = d.Duration()
	assert.False(t, ok, "a live stream announces no duration")
}

// TestTruncated: a file cut anywhere gives the packets of the whole
// blocks before the cut, as the whole file has them, then an error;
// cut inside the Segment, one wrapping io.ErrUnexpectedEOF.
func TestTruncated(t *testing.T) {
	full := testutil.Fixture(t, "prog.webm")
	want, err := demux(webm.NewOpusDemuxer(), bytes.NewReader(full))
	require.NoError(t, err)

	t.Run("prog_cut.webm", func(t *testing.T) {
		cut := testutil.Fixture(t, "prog_cut.webm")
		require.Equal(t, full[:len(cut)], cut)
		got, err := demux(webm.NewOpusDemuxer(), bytes.NewReader(cut))
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.ErrorContains(t, err, "cut short")
		require.NotEmpty(t, got)
		assert.Equal(t, want[:len(got)], got)
		assert.Greater(t, len(got), 50, "the first two Clusters are whole")
	})
	t.Run("every cut", func(t *testing.T) {
		for n := 0; n < len(full); n += 37 {
			d := webm.NewOpusDemuxer()
			got, err := demux(d, bytes.NewReader(full[:n]))
			require.Error(t, err, "cut at %d", n)
			if d.State() != nil {
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", n)
			}
			require.LessOrEqual(t, len(got), len(want))
			if len(got) > 0 {
				assert.Equal(t, want[:len(got)], got, "cut at %d", n)
			}
		}
	})
}

// TestVorbis: a WebM of another codec is refused, naming it.
func TestVorbis(t *testing.T) {
	d := webm.NewOpusDemuxer()
	_, err := d.NextPacket(bytes.NewReader(testutil.Fixture(t, "prog_vorbis.webm")))
	require.ErrorIs(t, err, webm.ErrUnsupported)
	assert.ErrorContains(t, err, "A_VORBIS")
	assert.ErrorContains(t, err, "ffmpeg")
	assert.Nil(t, d.State())
}

// TestNotWebM: other formats, and nothing.
func TestNotWebM(t *testing.T) {
	for _, name := range []string{"prog.opus", "notaudio.txt", "empty.mp3", "tone1k_s16_48000_2.flac"} {
		t.Run(name, func(t *testing.T) {
			_, err := webm.NewOpusDemuxer().NextPacket(bytes.NewReader(testutil.Fixture(t, name)))
			assert.ErrorIs(t, err, webm.ErrNotWebM)
		})
	}
}

// TestMaxPacket: a packet over WithMaxPacket's limit ends the stream
// with opus.ErrCorruptPacket after the packets before it.
func TestMaxPacket(t *testing.T) {
	d := webm.NewOpusDemuxer(webm.WithMaxPacket(100))
	assert.Equal(t, 100, d.MaxPacketSize())
	ps, err := demux(d, bytes.NewReader(testutil.Fixture(t, "prog.webm")))
	require.ErrorIs(t, err, opus.ErrCorruptPacket)
	assert.ErrorContains(t, err, "more than the limit 100")
	assert.Len(t, ps, 25, "the silent packets before the tone")
	assert.Panics(t, func() { webm.WithMaxPacket(0) })
	assert.Panics(t, func() { webm.WithMaxPacket(opus.MaxPacketSize + 1) })
}

// TestSize: the demuxer's memory is its buffers, bounded.
func TestSize(t *testing.T) {
	d := webm.NewOpusDemuxer()
	assert.Zero(t, d.Size())
	_, err := demux(d, bytes.NewReader(testutil.Fixture(t, "prog_laced.mka")))
	require.NoError(t, err)
	assert.Positive(t, d.Size())
	assert.Less(t, d.Size(), int64(64<<10))
}

var errSource = errors.New("source failed")

// TestSourceError: a source's error is returned as it is.
func TestSourceError(t *testing.T) {
	data := testutil.Fixture(t, "prog.webm")
	src := io.MultiReader(bytes.NewReader(data[:10000]), iotest.ErrReader(errSource))
	_, err := demux(webm.NewOpusDemuxer(), src)
	assert.ErrorIs(t, err, errSource)
}

// TestAllocsPerPacket: once running, the demuxer allocates nothing per
// block or packet: reading a whole file costs no more allocations than
// reading its first 20 packets (its headers' and buffers').
func TestAllocsPerPacket(t *testing.T) {
	for _, file := range []string{"prog.webm", "prog_xiph.webm", "prog_ebml.webm", "prog_unknownsize.webm", "prog_laced.mka"} {
		data := testutil.Fixture(t, file)
		run := func(n int) float64 {
			return testing.AllocsPerRun(5, func() {
				d, r := webm.NewOpusDemuxer(), bytes.NewReader(data)
				for i := 0; i != n; i++ {
					if _, err := d.NextPacket(r); err != nil {
						require.Equal(t, io.EOF, err)
						return
					}
				}
			})
		}
		first, all := run(20), run(-1)
		assert.LessOrEqual(t, all, first+3, "%s: %v allocations for the first 20 packets, %v for all", file, first, all)
	}
}
