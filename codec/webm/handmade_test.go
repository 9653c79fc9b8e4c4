package webm_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
)

// el is an EBML element: its ID's bytes, its size (8 bytes, or all ones
// for an unknown size if data is nil and unknown is set) and data.
func el(id uint32, data ...[]byte) []byte {
	body := bytes.Join(data, nil)
	return append(append(idBytes(id), size8(uint64(len(body)))...), body...)
}

// unknown is a master element of unknown size.
func unknown(id uint32, data ...[]byte) []byte {
	return append(append(idBytes(id), 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), bytes.Join(data, nil)...)
}

func idBytes(id uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, id)
	for b[0] == 0 {
		b = b[1:]
	}
	return b
}

// size8 is a size written in 8 bytes, as muxers that reserve space do.
func size8(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n|1<<56) }

func u(id uint32, v byte) []byte   { return el(id, []byte{v}) }
func s(id uint32, v string) []byte { return el(id, []byte(v)) }
func head() []byte {
	return ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312, InputRate: 48000}.Marshal()
}
func ebml(docType string) []byte { return el(0x1A45DFA3, s(0x4282, docType), u(0x4285, 2)) }
func simple(track byte, p []byte) []byte {
	return el(0xA3, []byte{0x80 | track, 0, 0, 0x80}, p) // track, timestamp 0, keyframe, no lacing
}

func opusTrack(n byte) []byte {
	return el(0xAE, u(0xD7, n), u(0x83, 2), s(0x86, "A_OPUS"), el(0x63A2, head()))
}

// TestHandMade reads small files made field by field.
func TestHandMade(t *testing.T) {
	silence := []byte(opus.SilenceFrame)
	tone := []byte{0xFC, 1, 2, 3} // CELT FB 20 ms, one frame
	video := el(0xAE, u(0xD7, 1), u(0x83, 1), s(0x86, "V_VP9"))
	for _, c := range []struct {
		name string
		file []byte
		want [][]byte
		err  error
		msg  string
	}{
		{
			"clusters of unknown size ended by Cues and by a Cluster",
			bytes.Join([][]byte{ebml("webm"), unknown(0x18538067,
				el(0x1654AE6B, opusTrack(1)),
				unknown(0x1F43B675, u(0xE7, 0), simple(1, silence), el(0xEC, make([]byte, 5))),
				el(0x1C53BB6B), // Cues: not a Cluster's child
				unknown(0x1F43B675, u(0xE7, 20), simple(1, tone)),
				unknown(0x1F43B675, simple(1, silence)),
			)}, nil),
			[][]byte{silence, tone, silence}, nil, "",
		},
		{
			"a video track first, its blocks skipped",
			bytes.Join([][]byte{ebml("matroska"), el(0x18538067,
				el(0x1654AE6B, video, opusTrack(2)),
				el(0x1F43B675, u(0xE7, 0), simple(1, []byte("a video frame")), simple(2, tone), simple(1, nil), simple(2, silence)),
			)}, nil),
			[][]byte{tone, silence}, nil, "",
		},
		{
			"an EBML header of another DocType",
			bytes.Join([][]byte{ebml("mkvx"), el(0x18538067)}, nil),
			nil, webm.ErrNotWebM, `DocType "mkvx"`,
		},
		{
			"an EBML header over its bound",
			el(0x1A45DFA3, el(0x4282, make([]byte, 5000))),
			nil, webm.ErrNotWebM, "EBML header of 5010 bytes",
		},
		{
			"a CodecID over its bound",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067,
				el(0x1654AE6B, el(0xAE, u(0xD7, 1), el(0x86, make([]byte, 5000)))),
			)}, nil),
			nil, webm.ErrCorrupt, "CodecID at offset 80 of 5000 bytes, more than the limit 4096",
		},
		{
			"a block over its bound",
			bytes.Join([][]byte{ebml("webm"), unknown(0x18538067,
				el(0x1654AE6B, opusTrack(1)),
				unknown(0x1F43B675, append(idBytes(0xA3), size8(100<<20)...), []byte{0x81, 0, 0, 0x80}),
			)}, nil),
			nil, webm.ErrCorrupt, "SimpleBlock at offset 146 of 104857600 bytes, more than the limit",
		},
		{
			"a child overrunning its parent",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067,
				el(0x1654AE6B, opusTrack(1)),
				el(0x1F43B675, append(idBytes(0xA3), size8(1000)...)),
			)}, nil),
			nil, webm.ErrCorrupt, "SimpleBlock at offset 146 overruns its Cluster",
		},
		{
			"AAC",
			bytes.Join([][]byte{ebml("matroska"), el(0x18538067,
				el(0x1654AE6B, video, el(0xAE, u(0xD7, 2), u(0x83, 2), s(0x86, "A_AAC"))),
			)}, nil),
			nil, webm.ErrUnsupported, "audio codec A_AAC, not Opus",
		},
		{
			"no audio",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067, el(0x1654AE6B, video))}, nil),
			nil, webm.ErrUnsupported, `no audio track (tracks: ["V_VP9"])`,
		},
		{
			"no OpusHead",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067,
				el(0x1654AE6B, el(0xAE, u(0xD7, 1), u(0x83, 2), s(0x86, "A_OPUS"), el(0x63A2, make([]byte, 2000)))),
			)}, nil),
			nil, webm.ErrCorrupt, "CodecPrivate of 2000 bytes",
		},
		{
			"an encrypted Opus track",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067,
				el(0x1654AE6B, el(0xAE, u(0xD7, 1), u(0x83, 2), s(0x86, "A_OPUS"), el(0x63A2, head()), el(0x6D80))),
			)}, nil),
			nil, webm.ErrUnsupported, "ContentEncodings",
		},
		{
			"a bad packet",
			bytes.Join([][]byte{ebml("webm"), el(0x18538067,
				el(0x1654AE6B, opusTrack(1)),
				el(0x1F43B675, simple(1, silence), simple(1, nil)),
			)}, nil),
			[][]byte{silence}, opus.ErrCorruptPacket, "packet 1 of the track",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := demux(webm.NewOpusDemuxer(), bytes.NewReader(c.file))
			assert.Equal(t, c.want, got)
			if c.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.err)
			assert.ErrorContains(t, err, c.msg)
			assert.NotErrorIs(t, err, io.EOF)
		})
	}
}
