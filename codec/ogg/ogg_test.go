package ogg_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// oggFile is what readOggOpus finds in an Ogg Opus stream.
type oggFile struct {
	head    ogg.OpusHead
	tags    ogg.OpusTags
	packets [][]byte
	length  int64
}

func readOggOpus(t testing.TB, r io.Reader) oggFile {
	t.Helper()
	d := ogg.NewOpusDemuxer()
	var f oggFile
	for {
		p, err := d.NextPacket(r)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		f.packets = append(f.packets, bytes.Clone(p))
	}
	info, ok := d.Info()
	require.True(t, ok)
	f.head, f.tags, f.length = info.Head, info.Tags, d.Length()
	return f
}

func TestOggOpusFixture(t *testing.T) {
	data := testutil.Fixture(t, "prog.opus")
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
	} {
		t.Run(name, func(t *testing.T) {
			f := readOggOpus(t, r)
			assert.EqualValues(t, 2, f.head.Channels)
			assert.EqualValues(t, 312, f.head.PreSkip)
			assert.EqualValues(t, 48000, f.head.InputRate)
			assert.Len(t, f.packets, 151)
			assert.EqualValues(t, 144000, f.length, "3 s at 48 kHz")
			assert.Contains(t, f.tags.Vendor, "libopus")
			for i, p := range f.packets {
				n, err := opus.PacketSamples(p)
				require.NoError(t, err, "packet %d", i)
				assert.Equal(t, int64(960), n, "packet %d", i)
			}
		})
	}
}

func TestOggManyPacketsPerPage(t *testing.T) {
	// Count the pages of the fixture: far fewer pages than packets.
	data := testutil.Fixture(t, "prog.opus")
	pages := bytes.Count(data, []byte("OggS"))
	assert.Less(t, pages, 10, "151 packets on %d pages", pages)
	r := ogg.NewReader(bytes.NewReader(data))
	ended := 0
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if p.Granule == -1 {
			ended++
		}
	}
	assert.Greater(t, ended, 100, "packets that do not end their page")
}

func TestOggOpusRoundTrip(t *testing.T) {
	orig := testutil.Fixture(t, "prog.opus")
	f := readOggOpus(t, bytes.NewReader(orig))
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, f.head, f.tags, ogg.WithSerial(1234))
	require.NoError(t, err)
	for _, p := range f.packets {
		require.NoError(t, w.WritePacket(p))
	}
	w.SetLength(f.length)
	require.NoError(t, w.Close())
	g := readOggOpus(t, bytes.NewReader(out.Bytes()))
	assert.Equal(t, f.head, g.head)
	assert.Equal(t, f.tags, g.tags)
	assert.Equal(t, f.length, g.length)
	require.Equal(t, len(f.packets), len(g.packets))
	for i := range f.packets {
		require.True(t, bytes.Equal(f.packets[i], g.packets[i]), "packet %d differs", i)
	}
	// Our pages are laid out as opusenc's: the file comes back whole.
	assert.True(t, bytes.Equal(orig, out.Bytes()), "file differs from opusenc's (%d vs %d bytes)", out.Len(), len(orig))
}

func TestOggPacketAcrossPages(t *testing.T) {
	// Packets of lengths around the lacing boundaries, and one too long for
	// a page (255*255 bytes) that must continue on the next.
	sizes := []int{0, 1, 254, 255, 256, 510, 70000, 3, 255 * 255, 7}
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, 42)
	var want [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		want = append(want, p)
		require.NoError(t, w.WritePacket(p, int64(i)))
	}
	require.NoError(t, w.Close())
	r := ogg.NewReader(iotest.HalfReader(bytes.NewReader(buf.Bytes())))
	for i := range want {
		p, err := r.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		assert.True(t, bytes.Equal(want[i], p.Data), "packet %d: got %d bytes; want %d", i, len(p.Data), len(want[i]))
		assert.Equal(t, i == 0, p.BOS)
		assert.EqualValues(t, 42, p.Serial)
		if i == len(want)-1 {
			assert.True(t, p.EOS)
			assert.EqualValues(t, i, p.Granule)
		}
	}
	_, err := r.ReadPacket()
	assert.Equal(t, io.EOF, err)
}

// page builds an Ogg page by hand, computing nothing but the checksum.
func page(flags byte, granule int64, seq uint32, lacing []byte, body []byte) []byte {
	p := []byte("OggS")  // capture pattern
	p = append(p, 0)     // version
	p = append(p, flags) // header type
	p = binary.LittleEndian.AppendUint64(p, uint64(granule))
	p = binary.LittleEndian.AppendUint32(p, 7)   // serial
	p = binary.LittleEndian.AppendUint32(p, seq) // sequence
	p = append(p, 0, 0, 0, 0)                    // checksum, filled below
	p = append(p, byte(len(lacing)))             // segments
	p = append(p, lacing...)
	p = append(p, body...)
	var crc uint32 // CRC-32, polynomial 0x04c11db7, MSB first, init 0
	for _, b := range p {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	binary.LittleEndian.PutUint32(p[22:], crc)
	return p
}

func TestOggHandMadePages(t *testing.T) {
	// Page 0 (BOS): packet "ab" complete, then 255 bytes of 'c' left open.
	// Page 1 (continued, EOS): the open packet ends with "d".
	p0 := page(0x02, 5, 0, []byte{2, 255}, append([]byte("ab"), bytes.Repeat([]byte("c"), 255)...))
	p1 := page(0x01|0x04, 9, 1, []byte{1}, []byte("d"))
	r := ogg.NewReader(bytes.NewReader(append(p0, p1...)))
	p, err := r.ReadPacket()
	require.NoError(t, err)
	assert.Equal(t, "ab", string(p.Data))
	assert.True(t, p.BOS)
	assert.EqualValues(t, 5, p.Granule, "the last packet to end on page 0")
	p, err = r.ReadPacket()
	require.NoError(t, err)
	assert.Equal(t, string(bytes.Repeat([]byte("c"), 255))+"d", string(p.Data))
	assert.EqualValues(t, 9, p.Granule)
	assert.True(t, p.EOS)
	_, err = r.ReadPacket()
	assert.Equal(t, io.EOF, err)
}

func TestOggErrors(t *testing.T) {
	good := testutil.Fixture(t, "prog.opus")
	badCRC := bytes.Clone(good)
	badCRC[200] ^= 0xff
	lost := page(0x02, 0, 0, []byte{1}, []byte("a"))
	lost = append(lost, page(0x04, 0, 2, []byte{1}, []byte("b"))...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"cut in a header", good[:10], io.ErrUnexpectedEOF},
		{"cut in a body", good[:len(good)-100], io.ErrUnexpectedEOF},
		{"bad checksum", badCRC, ogg.ErrBadPage},
		{"not Ogg", []byte("RIFF0000WAVEfmt 0000000000000000000000000"), ogg.ErrBadPage},
		{"page lost", lost, ogg.ErrBadPage},
		{"open packet at EOS", page(0x06, 0, 0, []byte{255}, make([]byte, 255)), ogg.ErrBadPage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ogg.NewReader(bytes.NewReader(tt.in))
			var err error
			for err == nil {
				_, err = r.ReadPacket()
			}
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestOggOpusNotOpus(t *testing.T) {
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, 1)
	require.NoError(t, w.WritePacket([]byte("\x80theora"), 0))
	require.NoError(t, w.Close())
	_, err := ogg.NewOpusDemuxer().NextPacket(&buf)
	assert.ErrorIs(t, err, ogg.ErrNotOpus)

	_, err = ogg.ParseOpusHead([]byte("OpusHead\x01\x00"))
	assert.ErrorIs(t, err, ogg.ErrNotOpus)
	// A comment count far beyond the bytes present.
	tags := []byte("OpusTags\x00\x00\x00\x00\xff\xff\xff\xff")
	_, err = ogg.ParseOpusTags(tags)
	assert.ErrorIs(t, err, ogg.ErrNotOpus)
}

func TestOpusHeadTagsRoundTrip(t *testing.T) {
	h := ogg.OpusHead{Version: 1, Channels: 3, PreSkip: 312, InputRate: 44100, OutputGain: -256, Family: 1, MappingTable: []byte{2, 1, 0, 2, 1}}
	got, err := ogg.ParseOpusHead(h.Marshal())
	require.NoError(t, err)
	assert.Equal(t, h, got)
	tg := ogg.OpusTags{Vendor: "v", Comments: []string{"TITLE=x", "ARTIST=y"}, Extra: []byte{1, 2}}
	gt, err := ogg.ParseOpusTags(tg.Marshal())
	require.NoError(t, err)
	assert.Equal(t, tg, gt)
}
