package ogg_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// roundTrip writes packets with a Writer and reads them back.
func roundTrip(t testing.TB, packets [][]byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, 5)
	for i, p := range packets {
		if err := w.WritePacket(p, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := ogg.NewReader(iotest.HalfReader(&buf))
	var got [][]byte
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(got), len(packets), err)
		}
		got = append(got, bytes.Clone(p.Data))
	}
}

// A page that fills its 255 lacing values exactly at a packet's end is not
// followed by a page marked "continued".
func TestWriterFullPageAtPacketEnd(t *testing.T) {
	packets := make([][]byte, 256)
	for i := range packets {
		packets[i] = []byte{byte(i)}
	}
	assert.Equal(t, packets, roundTrip(t, packets))

	// Packets of 255 bytes take two lacing values each (255 and 0).
	packets = nil
	for i := range 300 {
		packets = append(packets, bytes.Repeat([]byte{byte(i)}, 255))
	}
	assert.Equal(t, packets, roundTrip(t, packets))
}

// An Ogg Opus file of 2.5 ms packets (many to a page) reads and writes back
// whole.
func TestOpus2500usRoundTrip(t *testing.T) {
	var packets [][]byte
	for i := range 800 { // 2 s
		packets = append(packets, append([]byte{28 << 3}, byte(i), byte(i>>8)))
	}
	head := ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312}
	var buf bytes.Buffer
	w, err := ogg.NewOpusWriter(&buf, head, ogg.OpusTags{Vendor: "test"})
	require.NoError(t, err)
	for _, p := range packets {
		require.NoError(t, w.WritePacket(p))
	}
	w.SetLength(800*120 - 312 - 50)
	require.NoError(t, w.Close())
	f := readOggOpus(t, bytes.NewReader(buf.Bytes()))
	assert.Equal(t, packets, f.packets)
	assert.Equal(t, int64(800*120-312-50), f.length)
}

// A bad length still ends the stream with its last page and the end mark,
// and Close keeps saying so.
func TestOpusWriterBadLength(t *testing.T) {
	var buf bytes.Buffer
	w, err := ogg.NewOpusWriter(&buf, ogg.OpusHead{Version: 1, Channels: 1, PreSkip: 312}, ogg.OpusTags{})
	require.NoError(t, err)
	p := []byte(opus.SilenceFrame)
	for range 3 {
		require.NoError(t, w.WritePacket(p))
	}
	w.SetLength(10_000)
	err = w.Close()
	assert.ErrorIs(t, err, ogg.ErrLength)
	assert.ErrorIs(t, w.Close(), ogg.ErrLength, "a second Close returns the same")
	assert.ErrorIs(t, w.WritePacket(p), ogg.ErrClosed)
	f := readOggOpus(t, bytes.NewReader(buf.Bytes()))
	assert.Len(t, f.packets, 3, "the last page is written")
	assert.Equal(t, int64(3*960-312), f.length, "untrimmed")
	last := bytes.LastIndex(buf.Bytes(), []byte("OggS"))
	assert.NotZero(t, buf.Bytes()[last+5]&0x04, "marked end of stream")
}

// A chained file is read to the end of its first link, then ErrChained
// names the next.
func TestChained(t *testing.T) {
	first := testutil.Fixture(t, "prog.opus")
	f := readOggOpus(t, bytes.NewReader(first))
	var second bytes.Buffer
	w, err := ogg.NewOpusWriter(&second, f.head, f.tags, ogg.WithSerial(99))
	require.NoError(t, err)
	for _, p := range f.packets[:10] {
		require.NoError(t, w.WritePacket(p))
	}
	require.NoError(t, w.Close())
	chained := append(bytes.Clone(first), second.Bytes()...)

	d := ogg.NewOpusDemuxer()
	src := bytes.NewReader(chained)
	n := 0
	for {
		_, err = d.NextPacket(src)
		if err != nil {
			break
		}
		n++
	}
	assert.Equal(t, len(f.packets), n, "every packet of the first link")
	assert.ErrorIs(t, err, ogg.ErrChained)
	assert.Contains(t, err.Error(), "stream 99")
	assert.Equal(t, f.length, d.Length(), "the first link's length")

	// Through a Framer, the error reaches the readers after the packets.
	c := catcher.New(bytes.NewReader(chained), catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
	defer c.Close()
	assert.ErrorIs(t, c.Load(context.Background()), ogg.ErrChained)
	x, _, ok := catcher.StateOf[framed.Index](c)
	require.True(t, ok)
	assert.Equal(t, len(f.packets), x.Packets())

	// Bytes after the end that are not a page are not audio: ignored.
	r := ogg.NewReader(bytes.NewReader(append(bytes.Clone(first), "trailing junk"...)))
	for err = nil; err == nil; _, err = r.ReadPacket() {
	}
	assert.Equal(t, io.EOF, err)
}

func TestFramerOverDemuxer(t *testing.T) {
	data := testutil.Fixture(t, "prog.opus")
	want := readOggOpus(t, bytes.NewReader(data))
	d := ogg.NewOpusDemuxer()
	f := framed.NewFramer(d)
	assert.Equal(t, framed.PrefixSize+ogg.DefaultMaxPacket, f.MinSpace())
	c := catcher.New(bytes.NewReader(data), catcher.WithTransform(f))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	x, _, ok := catcher.StateOf[framed.Index](c)
	require.True(t, ok)
	assert.Equal(t, 151, x.Packets())
	assert.EqualValues(t, 144000, x.DurationSamples())
	assert.EqualValues(t, 312, x.PreSkip())
	assert.EqualValues(t, 960, x.Uniform())
	info, _, ok := catcher.StateOf[ogg.OpusInfo](c)
	require.True(t, ok, "the headers are published beside the Index")
	assert.Equal(t, want.head, info.Head)
	assert.Equal(t, want.tags, info.Tags)

	cur := framed.NewCursor(c)
	for i, w := range want.packets {
		p, err := cur.Next()
		require.NoError(t, err)
		require.Equal(t, w, p.Data, "packet %d", i)
	}
	_, err := cur.Next()
	assert.Equal(t, io.EOF, err)
}

func TestDemuxerMaxPacket(t *testing.T) {
	var buf bytes.Buffer
	w, err := ogg.NewOpusWriter(&buf, ogg.OpusHead{Version: 1, Channels: 1}, ogg.OpusTags{})
	require.NoError(t, err)
	require.NoError(t, w.WritePacket(append([]byte{31 << 3}, make([]byte, 1000)...)))
	require.NoError(t, w.Close())
	d := ogg.NewOpusDemuxer(ogg.WithMaxPacket(500))
	_, err = d.NextPacket(bytes.NewReader(buf.Bytes()))
	assert.ErrorIs(t, err, opus.ErrCorruptPacket)
	assert.Panics(t, func() { ogg.WithMaxPacket(opus.MaxPacketSize + 1) })
}

// FuzzRoundTrip: packets of any sizes, many to a page or spanning pages,
// runs of exactly 255·k bytes, written and read back, are identical.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint16(256), byte(0))
	f.Add(uint64(2), uint16(40), byte(1))
	f.Add(uint64(3), uint16(300), byte(2))
	f.Fuzz(func(t *testing.T, seed uint64, count uint16, mode byte) {
		rng := rand.New(rand.NewPCG(seed, uint64(mode)))
		n := int(count % 600)
		packets := make([][]byte, n)
		for i := range packets {
			var size int
			switch mode % 4 {
			case 0: // tiny: many to a page, lacing full at packet ends
				size = rng.IntN(3)
			case 1: // exact multiples of 255
				size = 255 * rng.IntN(5)
			case 2: // anything up to an Opus packet's maximum
				size = rng.IntN(opus.MaxPacketSize + 1)
			default:
				size = []int{0, 1, 254, 255, 256, 509, 510, 511}[rng.IntN(8)]
			}
			p := make([]byte, size)
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			packets[i] = p
		}
		got := roundTrip(t, packets)
		if len(got) != len(packets) {
			t.Fatalf("%d packets back of %d", len(got), len(packets))
		}
		for i := range packets {
			if !bytes.Equal(got[i], packets[i]) {
				t.Fatalf("packet %d: %d bytes back of %d", i, len(got[i]), len(packets[i]))
			}
		}
	})
}

// FuzzReader: no panic, bounded output, known errors; what reads whole
// writes back and reads the same; the Opus layer on top the same.
func FuzzReader(f *testing.F) {
	b := testutil.Fixture(f, "prog.opus")
	f.Add(b[:min(len(b), 2000)])
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, 9)
	_ = w.WritePacket(bytes.Repeat([]byte{7}, 600), 1)
	_ = w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		r := ogg.NewReader(bytes.NewReader(in))
		var packets [][]byte
		total := 0
		var err error
		for {
			var p ogg.Packet
			p, err = r.ReadPacket()
			if err != nil {
				break
			}
			total += len(p.Data)
			if total > len(in) {
				t.Fatalf("%d bytes of packets from %d of input", total, len(in))
			}
			packets = append(packets, bytes.Clone(p.Data))
		}
		if err != io.EOF {
			if !errors.Is(err, ogg.ErrBadPage) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ogg.ErrChained) {
				t.Fatalf("unexpected error %v", err)
			}
		} else {
			got := roundTrip(t, packets)
			for i := range packets {
				if !bytes.Equal(got[i], packets[i]) {
					t.Fatalf("packet %d differs after a round trip", i)
				}
			}
		}
		for _, chains := range []bool{false, true} {
			var opts []ogg.DemuxOption
			if chains {
				opts = append(opts, ogg.WithChains())
			}
			d := ogg.NewOpusDemuxer(opts...)
			src := bytes.NewReader(in)
			total := 0
			for {
				p, err := d.NextPacket(src)
				if err == io.EOF {
					break
				}
				if err != nil {
					if !errors.Is(err, ogg.ErrNotOpus) && !errors.Is(err, ogg.ErrBadPage) && !errors.Is(err, io.ErrUnexpectedEOF) &&
						!errors.Is(err, opus.ErrCorruptPacket) && (chains || !errors.Is(err, ogg.ErrChained)) {
						t.Fatalf("chains %v: unexpected error %v", chains, err)
					}
					break
				}
				if total += len(p); total > len(in) {
					t.Fatalf("chains %v: %d bytes of packets from %d of input", chains, total, len(in))
				}
			}
			if l, ok := d.State().(ogg.Links); chains && ok {
				if len(l) > ogg.MaxLinks {
					t.Fatalf("%d links kept", len(l))
				}
				for i := 1; i < len(l); i++ {
					if l[i].Start < l[i-1].Start || l[i].Offset <= l[i-1].Offset {
						t.Fatalf("links out of order: %+v", l)
					}
				}
			}
		}
	})
}

// opusenc's file of 2.5 ms packets reads, and writes back byte for byte.
func TestOpusenc2500usRoundTrip(t *testing.T) {
	orig := testutil.Fixture(t, "prog_2500us.opus")
	f := readOggOpus(t, bytes.NewReader(orig))
	assert.Len(t, f.packets, (144000+312+119)/120)
	assert.EqualValues(t, 144000, f.length)
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, f.head, f.tags, ogg.WithSerial(1235))
	require.NoError(t, err)
	for _, p := range f.packets {
		require.NoError(t, w.WritePacket(p))
	}
	w.SetLength(f.length)
	require.NoError(t, w.Close())
	g := readOggOpus(t, bytes.NewReader(out.Bytes()))
	assert.Equal(t, f.packets, g.packets)
	assert.Equal(t, f.length, g.length)
	assert.True(t, bytes.Equal(orig, out.Bytes()), "the file comes back whole (%d vs %d bytes)", out.Len(), len(orig))
}
