package pipeline_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// oggLength is the exact length of an Ogg Opus file, read by the demuxer.
func oggLength(t *testing.T, file []byte) int64 {
	t.Helper()
	d := ogg.NewOpusDemuxer()
	src := bytes.NewReader(file)
	for {
		if _, err := d.NextPacket(src); err != nil {
			require.Equal(t, io.EOF, err)
			return d.Length()
		}
	}
}

// reserial writes the Ogg Opus file's packets again under another serial
// number, each page ending where one of the file's did (so with the same
// granule positions, the end trimming included).
func reserial(t *testing.T, file []byte, serial uint32) []byte {
	t.Helper()
	r := ogg.NewReader(bytes.NewReader(file))
	var out bytes.Buffer
	w := ogg.NewWriter(&out, serial)
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NoError(t, w.WritePacket(p.Data, p.Granule))
		if p.EOS {
			break
		}
		if p.Granule != -1 {
			require.NoError(t, w.Flush())
		}
	}
	require.NoError(t, w.Close())
	return out.Bytes()
}

// A chained Ogg Opus file plays its first link, exact to the sample, and
// then fails with ogg.ErrChained, whether its next link reuses the
// first's serial number (files concatenated as they are) or not.
func TestChainedOggExact(t *testing.T) {
	one := testutil.Fixture(t, "prog.opus")
	want := oggLength(t, one) // the first link's exact length: the model
	require.Equal(t, want, oggLength(t, reserial(t, one, 7)), "the copy under another serial number is the same stream")
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"same serial", append(bytes.Clone(one), one...)},
		{"serial of its own", append(bytes.Clone(one), reserial(t, one, 7)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := pipeline.NewTrack(bytes.NewReader(tc.in))
			require.NoError(t, err)
			defer tr.Close()
			select {
			case <-tr.Done():
			case <-time.After(time.Minute):
				t.Fatal("the track did not end")
			}
			require.ErrorIs(t, tr.Err(), ogg.ErrChained)
			d, _ := tr.Duration()
			assert.Equal(t, opus.Duration(want), d, "got %v; want %v", d, opus.Duration(want))

			r, err := tr.NewPCMReader()
			require.NoError(t, err)
			defer r.Close()
			pcm, err := io.ReadAll(r)
			require.True(t, errors.Is(err, ogg.ErrChained), "got %v; want ogg.ErrChained after the first link", err)
			frames := int64(len(pcm) / r.Format().BytesPerFrame())
			assert.Equal(t, want, frames, "got %d samples; want %d", frames, want)
		})
	}
}
