package ogg_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// link is a logical stream of n two-byte packets, one a page, ended with
// an end-of-stream page if eos.
func link(t *testing.T, serial uint32, n int, eos bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, serial)
	for i := range n {
		require.NoError(t, w.WritePacket([]byte{byte(serial), byte(i)}, int64(i+1)))
		require.NoError(t, w.Flush())
	}
	if eos {
		require.NoError(t, w.Close())
	}
	return buf.Bytes()
}

func readAll(b []byte) (int, error) {
	r := ogg.NewReader(bytes.NewReader(b))
	n := 0
	for {
		_, err := r.ReadPacket()
		if err != nil {
			return n, err
		}
		n++
	}
}

func TestChainEdges(t *testing.T) {
	a, b := link(t, 1, 3, true), link(t, 2, 3, true)
	damaged := bytes.Clone(b)
	damaged[28] ^= 0xff // the body of the next link's first page
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"a chain", append(bytes.Clone(a), b...), ogg.ErrChained},
		{"a chain under one serial number", append(bytes.Clone(a), link(t, 1, 3, true)...), ogg.ErrChained},
		{"a link under one serial number without its end-of-stream page", append(link(t, 1, 3, false), link(t, 1, 3, true)...), ogg.ErrChained},
		{"a link without its end-of-stream page", append(link(t, 1, 3, false), b...), ogg.ErrChained},
		{"a page of the stream after its end", append(bytes.Clone(a), link(t, 1, 3, false)[30:]...), ogg.ErrBadPage}, // the pages after the BOS one
		{"a damaged next link", append(bytes.Clone(a), damaged...), ogg.ErrBadPage},
		{"a next link cut short", append(bytes.Clone(a), b[:20]...), io.ErrUnexpectedEOF},
		{"trailing bytes that are not a page", append(bytes.Clone(a), "not a page at all, just bytes"...), io.EOF},
		{"a few trailing bytes", append(bytes.Clone(a), "xy"...), io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := readAll(tc.in)
			assert.Equal(t, 3, n, "every packet of the first link")
			assert.True(t, errors.Is(err, tc.want), "got %v; want %v", err, tc.want)
			if tc.want != ogg.ErrChained {
				assert.NotErrorIs(t, err, ogg.ErrChained)
			}
		})
	}
}

// A stream multiplexed with ours that goes on after ours ends is not a
// chain.
func TestMultiplexedAfterEnd(t *testing.T) {
	var a, b bytes.Buffer
	wa, wb := ogg.NewWriter(&a, 1), ogg.NewWriter(&b, 2)
	require.NoError(t, wa.WritePacket([]byte("head1"), 0))
	require.NoError(t, wa.Flush())
	require.NoError(t, wb.WritePacket([]byte("head2"), 0))
	require.NoError(t, wb.Flush())
	bosA, bosB := bytes.Clone(a.Bytes()), bytes.Clone(b.Bytes())
	a.Reset()
	b.Reset()
	require.NoError(t, wa.WritePacket([]byte("data1"), 10))
	require.NoError(t, wa.Close())
	require.NoError(t, wb.WritePacket([]byte("data2"), 10))
	require.NoError(t, wb.Flush())
	file := append(append(append(bosA, bosB...), a.Bytes()...), b.Bytes()...)
	n, err := readAll(file)
	assert.Equal(t, 2, n)
	assert.Equal(t, io.EOF, err)
}

func opusLink(t *testing.T, serial uint32, trim int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ogg.NewOpusWriter(&buf, ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312}, ogg.OpusTags{Vendor: "x"}, ogg.WithSerial(serial))
	require.NoError(t, err)
	for range 50 {
		require.NoError(t, w.WritePacket([]byte(opus.SilenceFrame)))
	}
	w.SetLength(50*960 - 312 - trim)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// The first link of a chain keeps its exact length.
func TestChainedLength(t *testing.T) {
	one := opusLink(t, 1, 500)
	for name, in := range map[string][]byte{"single": one, "chained": append(bytes.Clone(one), opusLink(t, 2, 0)...)} {
		c := catcher.New(bytes.NewReader(in), catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
		err := c.Load(context.Background())
		if name == "chained" {
			assert.ErrorIs(t, err, ogg.ErrChained)
		} else {
			assert.NoError(t, err)
		}
		x, _, _ := catcher.StateOf[framed.Index](c)
		assert.Equal(t, int64(50*960-312-500), x.DurationSamples(), name)
		c.Close()
	}
}

// opusLinkNoEOS is a link of n silence frames whose last page is not
// marked end of stream (a stream cut where the next link begins), its last
// granule position the packets' total.
func opusLinkNoEOS(t *testing.T, serial uint32, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, serial)
	head := ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312}
	for _, p := range [][]byte{head.Marshal(), ogg.OpusTags{Vendor: "x"}.Marshal()} {
		require.NoError(t, w.WritePacket(p, 0))
		require.NoError(t, w.Flush())
	}
	for i := range n {
		require.NoError(t, w.WritePacket([]byte(opus.SilenceFrame), int64(i+1)*960))
	}
	require.NoError(t, w.Flush())
	return buf.Bytes()
}

// A chain is read to the end of its first link, exact to the sample,
// whether the next link has a serial number of its own or reuses the
// first's (files concatenated as they are), and whether or not the first
// ends with its end-of-stream page.
func TestChainExactLength(t *testing.T) {
	const trim = 648
	trimmed := int64(50*960 - 312 - trim) // the first link's true length
	untrimmed := int64(50*960 - 312)      // a link without its end-of-stream page: no end trimming
	for _, tc := range []struct {
		name  string
		first []byte
		next  []byte
		want  int64
	}{
		{"serial of its own", opusLink(t, 1, trim), opusLink(t, 2, 100), trimmed},
		{"same serial", opusLink(t, 1, trim), opusLink(t, 1, 100), trimmed},
		{"same serial, first link without end-of-stream page", opusLinkNoEOS(t, 1, 50), opusLink(t, 1, 100), untrimmed},
		{"serial of its own, first link without end-of-stream page", opusLinkNoEOS(t, 1, 50), opusLink(t, 2, 100), untrimmed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(bytes.Clone(tc.first), tc.next...)

			// The demuxer: every packet of the first link, then ErrChained,
			// and its length.
			d := ogg.NewOpusDemuxer()
			src := bytes.NewReader(in)
			packets, samples := 0, int64(0)
			var err error
			for {
				var p []byte
				if p, err = d.NextPacket(src); err != nil {
					break
				}
				n, perr := opus.PacketSamples(p)
				require.NoError(t, perr)
				packets++
				samples += n
			}
			require.ErrorIs(t, err, ogg.ErrChained)
			assert.Equal(t, 50, packets, "the first link's packets, none of the next's")
			assert.Equal(t, int64(50*960), samples)
			assert.Equal(t, tc.want, d.Length(), "got %d samples; want %d", d.Length(), tc.want)

			// The framed index a track serves its duration from.
			c := catcher.New(bytes.NewReader(in), catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
			defer c.Close()
			require.ErrorIs(t, c.Load(context.Background()), ogg.ErrChained)
			x, _, ok := catcher.StateOf[framed.Index](c)
			require.True(t, ok)
			assert.Equal(t, 50, x.Packets())
			assert.Equal(t, tc.want, x.DurationSamples(), "got %d samples; want %d", x.DurationSamples(), tc.want)
		})
	}
}
