package webm_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// known reports whether err is one the package documents.
func known(err error) bool {
	for _, e := range []error{webm.ErrNotWebM, webm.ErrUnsupported, webm.ErrCorrupt, webm.ErrNoCues, io.ErrUnexpectedEOF, opus.ErrCorruptPacket} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzWebM demuxes any input to its end, and reads its Cues and seeks in
// it: no panic; every packet valid Opus within the size limit, their
// bytes no more than the input's; the demuxer's memory within its bound;
// the length within the packets'; every error one the package documents.
func FuzzWebM(f *testing.F) {
	for _, name := range []string{"prog.webm", "prog_mono_pipe.webm", "prog_laced.mka", "prog_xiph.webm",
		"prog_ebml.webm", "prog_unknownsize.webm", "prog_cut.webm", "prog_vorbis.webm"} {
		b := testutil.Fixture(f, name)
		f.Add(b)
		f.Add(b[:min(len(b), 600)])
	}
	const maxPacket = 1500
	// the reader's buffer, a block of 256 packets with their lacing, and
	// the frames' slice headers
	const bound = 4<<10 + 256*(maxPacket+maxPacket/255+8) + 1 + 256*24
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		d := webm.NewOpusDemuxer(webm.WithMaxPacket(maxPacket))
		src := bytes.NewReader(data)
		var bytesOut, samples int64
		for {
			p, err := d.NextPacket(src)
			require.LessOrEqual(t, d.Size(), int64(bound))
			if err == io.EOF {
				l := d.Length()
				assert.GreaterOrEqual(t, l, int64(-1))
				assert.LessOrEqual(t, l, max(0, samples-d.PreSkip()))
				break
			}
			if err != nil {
				require.True(t, known(err), "error of no known kind: %v", err)
				break
			}
			n, perr := opus.PacketSamples(p)
			require.NoError(t, perr)
			require.LessOrEqual(t, len(p), maxPacket)
			samples += n
			bytesOut += int64(len(p))
			require.LessOrEqual(t, bytesOut, int64(len(data)))
		}

		cues, err := webm.ReadCues(bytes.NewReader(data))
		if err != nil {
			require.True(t, known(err), "ReadCues: error of no known kind: %v", err)
			return
		}
		require.NotEmpty(t, cues)
		r := bytes.NewReader(data)
		sd, _, err := webm.Seek(r, time.Second, webm.WithMaxPacket(maxPacket))
		if err != nil {
			require.True(t, known(err), "Seek: error of no known kind: %v", err)
			return
		}
		for range 1000 {
			if _, err := sd.NextPacket(r); err != nil {
				require.True(t, err == io.EOF || known(err), "after Seek: error of no known kind: %v", err)
				break
			}
		}
	})
}
