package codec_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec"
)

// oggFile is what readOggOpus finds in an Ogg Opus stream.
type oggFile struct {
	head    codec.OpusHead
	tags    codec.OpusTags
	packets [][]byte
	length  int64
}

func readOggOpus(t testing.TB, r io.Reader) oggFile {
	t.Helper()
	d := codec.NewOggOpusDemuxer()
	var f oggFile
	for {
		p, err := d.NextPacket(r)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		f.packets = append(f.packets, bytes.Clone(p))
	}
	f.head, f.tags, f.length = d.Head(), d.Tags(), d.Length()
	return f
}

func TestOggOpusFixture(t *testing.T) {
	data := fixture(t, "prog.opus")
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
				n, err := codec.PacketSamples(p)
				require.NoError(t, err, "packet %d", i)
				assert.Equal(t, 960, n, "packet %d", i)
			}
		})
	}
}

func TestOggManyPacketsPerPage(t *testing.T) {
	// Count the pages of the fixture: far fewer pages than packets.
	data := fixture(t, "prog.opus")
	pages := bytes.Count(data, []byte("OggS"))
	assert.Less(t, pages, 10, "151 packets on %d pages", pages)
	r := codec.NewOggReader(bytes.NewReader(data))
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
	orig := fixture(t, "prog.opus")
	f := readOggOpus(t, bytes.NewReader(orig))
	var out bytes.Buffer
	w, err := codec.NewOggOpusWriter(&out, f.head, f.tags, codec.WithSerial(1234))
	require.NoError(t, err)
	for _, p := range f.packets {
		require.NoError(t, w.WritePacket(p))
	}
	require.NoError(t, w.Close(f.length))
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
	w := codec.NewOggWriter(&buf, 42)
	var want [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		want = append(want, p)
		require.NoError(t, w.WritePacket(p, int64(i)))
	}
	require.NoError(t, w.End())
	r := codec.NewOggReader(iotest.HalfReader(bytes.NewReader(buf.Bytes())))
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
	r := codec.NewOggReader(bytes.NewReader(append(p0, p1...)))
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
	good := fixture(t, "prog.opus")
	badCRC := bytes.Clone(good)
	badCRC[200] ^= 0xff
	lost := page(0x02, 0, 0, []byte{1}, []byte("a"))
	lost = append(lost, page(0x04, 0, 2, []byte{1}, []byte("b"))...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, codec.ErrTruncated},
		{"cut in a header", good[:10], codec.ErrTruncated},
		{"cut in a body", good[:len(good)-100], codec.ErrTruncated},
		{"bad checksum", badCRC, codec.ErrBadPage},
		{"not Ogg", []byte("RIFF0000WAVEfmt 0000000000000000000000000"), codec.ErrBadPage},
		{"page lost", lost, codec.ErrBadPage},
		{"open packet at EOS", page(0x06, 0, 0, []byte{255}, make([]byte, 255)), codec.ErrBadPage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := codec.NewOggReader(bytes.NewReader(tt.in))
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
	w := codec.NewOggWriter(&buf, 1)
	require.NoError(t, w.WritePacket([]byte("\x80theora"), 0))
	require.NoError(t, w.End())
	_, err := codec.NewOggOpusDemuxer().NextPacket(&buf)
	assert.ErrorIs(t, err, codec.ErrNotOpus)

	_, err = codec.ParseOpusHead([]byte("OpusHead\x01\x00"))
	assert.ErrorIs(t, err, codec.ErrNotOpus)
	// A comment count far beyond the bytes present.
	tags := []byte("OpusTags\x00\x00\x00\x00\xff\xff\xff\xff")
	_, err = codec.ParseOpusTags(tags)
	assert.ErrorIs(t, err, codec.ErrNotOpus)
}

func TestOpusHeadTagsRoundTrip(t *testing.T) {
	h := codec.OpusHead{Version: 1, Channels: 3, PreSkip: 312, InputRate: 44100, OutputGain: -256, Family: 1, MappingTable: []byte{2, 1, 0, 2, 1}}
	got, err := codec.ParseOpusHead(h.Marshal())
	require.NoError(t, err)
	assert.Equal(t, h, got)
	tg := codec.OpusTags{Vendor: "v", Comments: []string{"TITLE=x", "ARTIST=y"}, Extra: []byte{1, 2}}
	gt, err := codec.ParseOpusTags(tg.Marshal())
	require.NoError(t, err)
	assert.Equal(t, tg, gt)
}

// framedToOgg writes the framed packets read from r, described by x, as an
// Ogg Opus file, and returns it with a copy of each packet.
func framedToOgg(t testing.TB, r io.Reader, x codec.Index, inputRate uint32) ([]byte, [][]byte) {
	t.Helper()
	var ogg bytes.Buffer
	w, err := codec.NewOggOpusWriter(&ogg, codec.OpusHead{Version: 1, Channels: 2, PreSkip: uint16(x.PreSkip), InputRate: inputRate}, codec.OpusTags{Vendor: "streamcatcher"})
	require.NoError(t, err)
	pr := codec.NewPacketReader(r)
	var packets [][]byte
	for {
		p, err := pr.ReadPacket()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		packets = append(packets, bytes.Clone(p))
		require.NoError(t, w.WritePacket(p))
	}
	require.NoError(t, w.Close(x.Length))
	return ogg.Bytes(), packets
}
