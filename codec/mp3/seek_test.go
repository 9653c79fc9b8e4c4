package mp3_test

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// A decoder made by Seek gives, from the sample it says it starts at, the
// whole stream's output sample for sample, to its end: at the start, in
// the encoder's delay, at a frame's first sample and inside one, and in
// the last frame; for MPEG-1 and MPEG-2, CBR and VBR, behind a tag; with
// both decoders.
func TestSeek(t *testing.T) {
	files := []string{"prog_cbr128.mp3", "prog_vbr.mp3", "prog_id3.mp3", "prog_22050_mono.mp3", "prog_notag.mp3"}
	for _, e := range engines {
		for _, file := range files {
			if testing.Short() && e == mp3.Native && (file == "prog_id3.mp3" || file == "prog_notag.mp3") {
				continue // the tags are the walker's, which go-mp3's runs check
			}
			t.Run(e.String()+"/"+file, func(t *testing.T) { testSeek(t, e, file) })
		}
	}
	// MPEG-2.5 and padded MPEG-2 frames, which only the Native decoder
	// decodes.
	for _, file := range []string{"prog_8000_mono.mp3", "prog_22050_32k.mp3"} {
		t.Run("native/"+file, func(t *testing.T) { testSeek(t, mp3.Native, file) })
	}
}

func testSeek(t *testing.T, e mp3.Engine, file string) {
	data := testutil.Fixture(t, file)
	whole, err := decodeMP3(t, bytes.NewReader(data), mp3.WithEngine(e))
	require.NoError(t, err)
	info, err := mp3.NewDecoder(mp3.WithEngine(e)).ReadInfo(bytes.NewReader(data))
	require.NoError(t, err)
	sb := int64(sampleBytes(e, info.Channels))
	n := int64(len(whole)) / sb
	for _, sample := range []int64{0, 1, 600, 1152, 1729, 20000, 44100, n / 2, n - 1000, n - 1} {
		if sample >= n {
			continue // a stream shorter than 44100 samples
		}
		r := iotest.HalfReader(bytes.NewReader(data))
		d, first, err := mp3.Seek(r, sample, mp3.WithEngine(e))
		require.NoError(t, err, "sample %d", sample)
		assert.LessOrEqual(t, first, sample)
		assert.Greater(t, first, sample-1152, "the frame holding sample %d", sample)
		got, err := io.ReadAll(catcher.NewTransformReader(r, d))
		require.NoError(t, err)
		require.Equal(t, len(whole)-int(first*sb), len(got), "sample %d: the output runs to the stream's end", sample)
		assert.True(t, bytes.Equal(whole[first*sb:], got), "sample %d: the whole stream's output from %d", sample, first)
	}
	_, _, err = mp3.Seek(bytes.NewReader(data), n+5000, mp3.WithEngine(e))
	assert.ErrorIs(t, err, io.EOF, "past the end")
}
