package ogg_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// longOgg writes prog.opus's packets n times over as one Ogg Opus stream
// through the page Writer: a page ended every perPage packets (or when
// its lacing values run out, a packet then continued on the next page),
// the granule positions from start (RFC 7845's starting granule position
// counts the samples of packets before the stream began). It returns the
// stream and its packets.
func longOgg(t *testing.T, n, perPage int, start int64) ([]byte, [][]byte) {
	t.Helper()
	f := readOggOpus(t, bytes.NewReader(testutil.Fixture(t, "prog.opus")))
	var out bytes.Buffer
	w := ogg.NewWriter(&out, 7)
	for _, p := range [][]byte{f.head.Marshal(), f.tags.Marshal()} {
		require.NoError(t, w.WritePacket(p, 0))
		require.NoError(t, w.Flush())
	}
	var packets [][]byte
	g := start
	for range n {
		for _, p := range f.packets {
			g += 960
			require.NoError(t, w.WritePacket(p, g))
			packets = append(packets, p)
			if len(packets)%perPage == 0 {
				require.NoError(t, w.Flush())
			}
		}
	}
	require.NoError(t, w.Close())
	return out.Bytes(), packets
}

// countingSeeker is a bytes.Reader that counts the bytes read from it.
type countingSeeker struct {
	*bytes.Reader
	read int64
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += int64(n)
	return n, err
}

// SeekOpus's demuxer gives the stream's own packets from the one it says
// it starts at, which starts at or before the sample sought, on a page
// at most a page before it; it reads a small part of the stream to find
// it (pages of a second: bisection reads a few pages at each step). Pages of 50 packets, and of as many as their lacing values hold
// (packets continued across pages); a stream that starts at a granule
// position past 0.
func TestSeekOpus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perPage int
		start   int64
	}{
		{"pages of 50", 50, 0},
		{"continued packets", 1 << 20, 0},
		{"starting granule", 50, 48000 * 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, packets := longOgg(t, 20, tc.perPage, tc.start)
			total := int64(len(packets)) * 960
			rng := rand.New(rand.NewPCG(1, 2))
			for _, s := range []int64{0, 959, 960, 48000, total / 2, total - 1, total + 5000, rng.Int64N(total), rng.Int64N(total)} {
				c := &countingSeeker{Reader: bytes.NewReader(data)}
				d, first, err := ogg.SeekOpus(c, s)
				require.NoError(t, err, "sample %d", s)
				if tc.perPage <= 50 { // pages of a second, as opusenc writes them
					assert.Less(t, c.read, int64(len(data))/4, "sample %d: found reading a small part of the stream", s)
				}
				require.Zero(t, first%960, "sample %d: starts at %d, a packet's start", s, first)
				k := int(first / 960)
				assert.LessOrEqual(t, first, s, "sample %d", s)
				assert.Less(t, s-first, int64(300*960), "sample %d: from %d, at most a page before", s, first)
				for ; ; k++ {
					p, err := d.NextPacket(c)
					if err == io.EOF {
						break
					}
					require.NoError(t, err)
					require.Less(t, k, len(packets))
					require.Equal(t, packets[k], p, "sample %d: packet %d", s, k)
				}
				assert.Equal(t, len(packets), k, "sample %d: to the last packet", s)
			}
		})
	}
}

// A stream without audio is an error wrapping io.ErrUnexpectedEOF.
func TestSeekOpusNoAudio(t *testing.T) {
	f := readOggOpus(t, bytes.NewReader(testutil.Fixture(t, "prog.opus")))
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, f.head, f.tags)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, _, err = ogg.SeekOpus(bytes.NewReader(out.Bytes()), 1000)
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "got %v", err)
}
