package ogg_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// demuxAll reads every packet of in with d, and the error that ends them.
func demuxAll(d *ogg.OpusDemuxer, in io.Reader) ([][]byte, error) {
	var got [][]byte
	for {
		p, err := d.NextPacket(in)
		if err != nil {
			return got, err
		}
		got = append(got, bytes.Clone(p))
	}
}

func samplesOf(t *testing.T, packets [][]byte) int64 {
	t.Helper()
	var n int64
	for _, p := range packets {
		k, err := opus.PacketSamples(p)
		require.NoError(t, err)
		n += k
	}
	return n
}

// A chain read WithChains: every link's packets in order, each link's
// headers in the Links with its first packet's sample and its offset,
// whatever the links' serial numbers, channels, pre-skips and ends.
func TestChainsAcrossLinks(t *testing.T) {
	links := []testutil.OggLink{
		testutil.OpusLink(t, 1, 2, 312, 23, true, "TITLE=One", "ARTIST=A"),
		testutil.OpusLink(t, 2, 1, 120, 7, false, "TITLE=Two"),    // no end-of-stream page
		testutil.OpusLink(t, 2, 2, 3840, 11, true, "TITLE=Three"), // the serial number again
		testutil.OpusLink(t, 9, 2, 0, 1, true, "TITLE=Four", "ARTIST=D"),
	}
	var in []byte
	var want [][]byte
	var offsets []int64
	for _, l := range links {
		offsets = append(offsets, int64(len(in)))
		in = append(in, l.Data...)
		want = append(want, l.Packets...)
	}
	for name, r := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(in) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
	} {
		t.Run(name, func(t *testing.T) {
			d := ogg.NewOpusDemuxer(ogg.WithChains())
			got, err := demuxAll(d, r())
			require.Equal(t, io.EOF, err)
			require.Equal(t, want, got, "every link's packets, in order")
			assert.EqualValues(t, 312, d.PreSkip(), "the first link's pre-skip")
			assert.Equal(t, int64(42*960-312), d.Length(), "the packets less the first pre-skip; the last link untrimmed")
			st, ok := d.State().(ogg.Links)
			require.True(t, ok, "got state %T; want ogg.Links", d.State())
			require.Len(t, st, len(links))
			start := int64(0)
			for i, l := range st {
				assert.Equal(t, start, l.Start, "link %d", i)
				assert.Equal(t, offsets[i], l.Offset, "link %d", i)
				assert.Zero(t, l.Skipped, "link %d", i)
				assert.Equal(t, links[i].Packets[0][0]&0x04 != 0, l.Head.Channels == 2, "link %d", i)
				start += samplesOf(t, links[i].Packets)
			}
			assert.Equal(t, []string{"TITLE=Three"}, st[2].Tags.Comments)
			assert.EqualValues(t, 3840, st[2].Head.PreSkip)
			info, ok := d.Info()
			require.True(t, ok)
			assert.Equal(t, st[3].OpusInfo, info, "Info is the current link's")
			l, ok := st.At(23*960 + 7*960)
			assert.True(t, ok)
			assert.Equal(t, "TITLE=Three", l.Tags.Comments[0])
		})
	}
}

// A radio stream spliced at any byte (a reconnect: the old connection's
// page cut short, then the new one's headers and pages from its live
// point): WithChains, every packet on a whole page of the old connection
// and every packet of the new, then the end; without, ErrBadPage as
// before.
func TestChainsSplice(t *testing.T) {
	a := testutil.OpusLink(t, 5, 2, 312, 40, false, "TITLE=Before")
	b := testutil.OpusLink(t, 5, 2, 312, 60, true, "TITLE=After").Join(3) // the same song, joined later
	first := a.Pages[2] + 1                                               // inside the first audio page
	var cuts []int
	for c := first; c < len(a.Data); c += 7 {
		cuts = append(cuts, c)
	}
	cuts = append(cuts, a.Pages[4], a.Pages[4]+27, len(a.Data)-1)
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			in := append(bytes.Clone(a.Data[:cut]), b.Data...)
			// What a plain Reader makes of the old connection's bytes:
			// the packets of its whole pages.
			var before [][]byte
			r := ogg.NewReader(bytes.NewReader(a.Data[:cut]))
			for {
				p, err := r.ReadPacket()
				if err != nil {
					break
				}
				before = append(before, bytes.Clone(p.Data))
			}
			before = before[2:] // the headers
			d := ogg.NewOpusDemuxer(ogg.WithChains())
			got, err := demuxAll(d, bytes.NewReader(in))
			require.Equal(t, io.EOF, err)
			want := append(append([][]byte(nil), before...), b.Packets...)
			require.Equal(t, len(want), len(got))
			require.Equal(t, want, got)
			st := d.State().(ogg.Links)
			require.Len(t, st, 2)
			assert.Equal(t, int64(cut), st[1].Offset)
			assert.Equal(t, samplesOf(t, before), st[1].Start)
			whole := 0 // the start of the page cut short
			for _, p := range a.Pages {
				if p <= cut {
					whole = p
				}
			}
			if cut == whole {
				whole = cut // cut at a page's boundary: nothing to skip
			}
			assert.Equal(t, int64(cut-whole), st[1].Skipped, "the bytes of the page cut short")

			_, err = demuxAll(ogg.NewOpusDemuxer(), bytes.NewReader(in))
			assert.True(t, errors.Is(err, ogg.ErrBadPage) || errors.Is(err, ogg.ErrChained) || errors.Is(err, io.ErrUnexpectedEOF),
				"without WithChains: got %v; want a failure", err)
		})
	}
}

// Bytes that are no page between links, and links that keep coming: the
// Links keep the last MaxLinks.
func TestChainsBounded(t *testing.T) {
	var in []byte
	var want [][]byte
	const n = ogg.MaxLinks + 6
	for i := range n {
		l := testutil.OpusLink(t, uint32(i), 2, 312, 2, i%2 == 0, fmt.Sprintf("TITLE=%d", i))
		in = append(in, l.Data...)
		if i%5 == 0 {
			in = append(in, "junk between links, as a server's bug leaves"...)
		}
		want = append(want, l.Packets...)
	}
	d := ogg.NewOpusDemuxer(ogg.WithChains())
	got, err := demuxAll(d, bytes.NewReader(in))
	require.Equal(t, io.EOF, err)
	require.Equal(t, want, got)
	st := d.State().(ogg.Links)
	require.Len(t, st, ogg.MaxLinks)
	assert.Equal(t, fmt.Sprintf("TITLE=%d", n-1), st[len(st)-1].Tags.Comments[0])
	assert.Equal(t, int64((n-1)*2*960), st[len(st)-1].Start)
	assert.Equal(t, fmt.Sprintf("TITLE=%d", n-ogg.MaxLinks), st[0].Tags.Comments[0])
}

// FuzzChainsSplice: a link cut at any byte after its headers, then
// another joined at any page: WithChains gives the packets of the first's
// whole pages, then every packet of the second, and the end.
func FuzzChainsSplice(f *testing.F) {
	f.Add(uint8(40), uint8(60), uint16(500), uint8(3), false)
	f.Add(uint8(1), uint8(1), uint16(0), uint8(0), true)
	f.Add(uint8(12), uint8(30), uint16(9999), uint8(7), true)
	f.Fuzz(func(t *testing.T, n1, n2 uint8, cut uint16, join uint8, sameSerial bool) {
		a := testutil.OpusLink(t, 3, 2, 312, int(n1)+1, false, "TITLE=a") // a page of audio at least
		serial := uint32(4)
		if sameSerial {
			serial = 3
		}
		full := testutil.OpusLink(t, serial, 1, 120, int(n2)+1, true, "TITLE=b")
		b := full.Join(int(join) % (len(full.Pages) - 2))
		c := a.Pages[2] + int(cut)%(len(a.Data)-a.Pages[2]+1)
		in := append(bytes.Clone(a.Data[:c]), b.Data...)
		var want [][]byte
		r := ogg.NewReader(bytes.NewReader(a.Data[:c]))
		for {
			p, err := r.ReadPacket()
			if err != nil {
				break
			}
			want = append(want, bytes.Clone(p.Data))
		}
		want = append(want[2:], b.Packets...)
		d := ogg.NewOpusDemuxer(ogg.WithChains())
		got, err := demuxAll(d, bytes.NewReader(in))
		if err != io.EOF {
			t.Fatalf("cut at %d of %d: got %v; want io.EOF", c, len(a.Data), err)
		}
		if len(got) != len(want) {
			t.Fatalf("cut at %d of %d: got %d packets; want %d", c, len(a.Data), len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("cut at %d: packet %d differs", c, i)
			}
		}
		if l := d.State().(ogg.Links); len(l) != 2 || l[1].Offset != int64(c) {
			t.Fatalf("cut at %d: links %+v", c, l)
		}
	})
}
