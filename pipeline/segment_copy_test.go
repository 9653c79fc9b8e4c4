//go:build cgo

package pipeline_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// progPackets returns prog.opus's headers and packets (3 s of 20 ms).
func progPackets(t *testing.T) (ogg.OpusInfo, [][]byte) {
	t.Helper()
	d := ogg.NewOpusDemuxer()
	packets := demuxPackets(t, d, testutil.Fixture(t, "prog.opus"))
	info, ok := d.Info()
	require.True(t, ok)
	return info, packets
}

// longOggOpus is prog.opus's packets over and over for about d, as one
// Ogg Opus stream of pages of a second, and its packets.
func longOggOpus(t *testing.T, d time.Duration) ([]byte, [][]byte) {
	t.Helper()
	info, one := progPackets(t)
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, info.Head, info.Tags)
	require.NoError(t, err)
	var packets [][]byte
	for len(packets)*20 < int(d/time.Millisecond) {
		for _, p := range one {
			require.NoError(t, w.WritePacket(p))
			packets = append(packets, p)
		}
	}
	require.NoError(t, w.Close())
	return out.Bytes(), packets
}

// EBML elements, for longWebM: an ID's bytes, an 8-byte size, the data.
func ebmlEl(id uint32, data ...[]byte) []byte {
	body := bytes.Join(data, nil)
	b := binary.BigEndian.AppendUint32(nil, id)
	for b[0] == 0 {
		b = b[1:]
	}
	return append(binary.BigEndian.AppendUint64(b, uint64(len(body))|1<<56), body...)
}

func ebmlUint(id uint32, v uint64) []byte { return ebmlEl(id, binary.BigEndian.AppendUint64(nil, v)) }

// longWebM is prog.opus's packets over and over for about d as a WebM
// file: one SimpleBlock a packet, at its time (the pre-skip included, in
// milliseconds), in Clusters of 2 s, each with its CuePoint in the Cues
// after the last Cluster (no SeekHead: the demuxer looks for them there);
// and its packets.
func longWebM(t *testing.T, d time.Duration) ([]byte, [][]byte) {
	t.Helper()
	info, one := progPackets(t)
	var packets [][]byte
	for len(packets)*20 < int(d/time.Millisecond) {
		packets = append(packets, one...)
	}
	var body, cues []byte
	body = append(body, ebmlEl(0x1549A966, ebmlUint(0x2AD7B1, 1000000))...) // Info: TimestampScale 1 ms
	entry := ebmlEl(0xAE,
		ebmlUint(0xD7, 1),                                      // TrackNumber
		ebmlUint(0x83, 2),                                      // TrackType: audio
		ebmlEl(0x86, []byte("A_OPUS")),                         // CodecID
		ebmlEl(0x63A2, info.Head.Marshal()),                    // CodecPrivate
		ebmlUint(0x56AA, uint64(info.Head.PreSkip)*1000000/48), // CodecDelay, ns
		ebmlUint(0x56BB, 80000000))                             // SeekPreRoll, ns
	body = append(body, ebmlEl(0x1654AE6B, entry)...) // Tracks
	const perCluster = 100
	for k := 0; k < len(packets); k += perCluster {
		ms := uint64(k * 20)
		blocks := [][]byte{ebmlUint(0xE7, ms)} // Timestamp
		for j := k; j < min(k+perCluster, len(packets)); j++ {
			rel := binary.BigEndian.AppendUint16([]byte{0x81}, uint16((j-k)*20)) // track 1, timestamp
			blocks = append(blocks, ebmlEl(0xA3, rel, []byte{0x80}, packets[j])) // keyframe, no lacing
		}
		cues = append(cues, ebmlEl(0xBB, ebmlUint(0xB3, ms), ebmlEl(0xB7, ebmlUint(0xF7, 1), ebmlUint(0xF1, uint64(len(body)))))...)
		body = append(body, ebmlEl(0x1F43B675, blocks...)...)
	}
	body = append(body, ebmlEl(0x1C53BB6B, cues)...)
	head := ebmlEl(0x1A45DFA3, ebmlEl(0x4282, []byte("webm")), ebmlUint(0x4285, 2))
	return append(head, ebmlEl(0x18538067, body)...), packets
}

// A seek 45 s into a minute of Ogg Opus or WebM whose demux has just
// started (its source held after its first 50 KB) is made from a segment
// of the source's own packets: found by page (Ogg: granule bisection) or
// by Cues (WebM) where the source seeks, read from the start where it
// does not. The queue plays on meanwhile, then gives a silence frame at
// the target's packet (a jump without a transition) and the segment's
// packets after it at their exact positions, byte-equal to the source's
// and the track's own packets there; once the track's demux has passed,
// it goes back onto the track's packets with no transition, the stream
// going on packet for packet.
func TestQueueSeekAheadCopied(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(*testing.T, time.Duration) ([]byte, [][]byte)
		plain bool
	}{
		{"ogg by page", longOggOpus, false},
		{"ogg read from the start", longOggOpus, true},
		{"webm by cues", longWebM, false},
		{"webm read from the start", longWebM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, own := tc.make(t, time.Minute)
			o := &heldOpener{data: data, head: 50 << 10, released: make(chan struct{}), plain: tc.plain}
			seekAheadCopied(t, o.open, o.released, own, 45*time.Second)
			if !tc.plain {
				// A read from the start reads at least the bytes before
				// the target; a located one, the target's page or Cluster
				// on, to the end here, and the few pages or elements that
				// locate it.
				before := int64(len(data)) * 45 / 60
				assert.Less(t, o.read.Load(), before, "the segment's source not read from its start: %d bytes read, about %d before the target", o.read.Load(), before)
			}
		})
	}
}

// seekAheadCopied checks a seek to target of a track of Ogg Opus or
// WebM whose packets are own, opened by open, the first open's source
// held until release is closed (which it closes), as
// TestQueueSeekAheadCopied says.
func seekAheadCopied(t *testing.T, open func(context.Context, string) (io.Reader, error), release chan struct{}, own [][]byte, target time.Duration) {
	t.Helper()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	lib := pipeline.NewLibrary(pipeline.WithOpener(open))
	defer lib.Close()
	q := pipeline.NewQueue(lib)
	defer q.Close()
	key := pipeline.Key{Source: "long"}
	id := q.Enqueue(key)
	first := nextPacket(t, q)
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	tr := h.Track()

	q.Seek(id, target)
	var (
		played []pipeline.Packet // from the jump on
		before = first.Position
		jumped bool
	)
	for n := 0; len(played) < 200; n++ {
		pk := nextPacket(t, q)
		if !jumped && pk.Position == before+960 { // plays on where it was meanwhile
			before = pk.Position
			require.Less(t, n, 3000, "the seek made within 60 s of audio played on")
			continue
		}
		jumped = true
		played = append(played, pk)
	}
	x, ok := tr.Index()
	require.True(t, ok)
	pre, u := x.PreSkip(), int64(960)
	i0 := (int64(target/time.Millisecond)*48 + pre) / u
	assert.Less(t, int64(x.Packets()), i0, "the track's own demux is not there: the packets came from a segment")
	assert.EqualValues(t, 1, pipeline.SegmentsMade(tr))
	assert.True(t, played[0].Silence, "a silence frame in place of the target's packet")
	for k, pk := range played {
		require.Equal(t, (i0+int64(k))*u-pre, pk.Position, "packet %d after the jump at its exact position", k)
		if k > 0 {
			require.False(t, pk.Silence || pk.Seam, "packet %d after the jump", k)
			require.Equal(t, own[i0+int64(k)], pk.Data, "packet %d after the jump: the source's own", k)
		}
	}
	assert.Equal(t, 1, pipeline.SegmentPlayers(tr), "the queue plays from the segment")

	close(release)
	released = true
	waitTrack(t, tr)
	require.NoError(t, tr.Err())
	all := packets(t, tr)
	require.Equal(t, own, all, "the track's packets are the source's")
	// Back onto the track's packets: the stream goes on packet for
	// packet, the same bytes, with no transition.
	for k := len(played); k < len(played)+300; k++ {
		pk := nextPacket(t, q)
		require.Equal(t, (i0+int64(k))*u-pre, pk.Position, "packet %d after the jump", k)
		require.False(t, pk.Silence || pk.Seam, "packet %d after the jump", k)
		require.Equal(t, all[i0+int64(k)], pk.Data, "packet %d after the jump", k)
	}
	assert.Zero(t, pipeline.SegmentPlayers(tr), "the queue is back on the track's packets")
}

// heldHTTP is an HTTPSource that gives its first head bytes at once and
// the rest once open is closed.
type heldHTTP struct {
	s    *pipeline.HTTPSource
	head int64
	open chan struct{}
	n    int64
}

func (h *heldHTTP) Read(p []byte) (int, error) {
	if h.n >= h.head {
		<-h.open
	} else {
		p = p[:min(int64(len(p)), h.head-h.n)]
	}
	n, err := h.s.Read(p)
	h.n += int64(n)
	return n, err
}

func (h *heldHTTP) Close() error { return h.s.Close() }

// countedSource is a source that can seek, whose reads are counted.
type countedSource struct {
	*pipeline.HTTPSource
	n *atomic.Int64
}

func (c countedSource) Read(p []byte) (int, error) {
	n, err := c.HTTPSource.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// The same over HTTP, the segment's source an HTTPSource that seeks by
// range (under If-Range): the Ogg file's pages bisected, the WebM file's
// Cues read, each by ranges, the bytes before the target not read.
func TestQueueSeekAheadCopiedHTTP(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(*testing.T, time.Duration) ([]byte, [][]byte)
	}{
		{"ogg by page", longOggOpus},
		{"webm by cues", longWebM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, own := tc.make(t, time.Minute)
			rs := &rangeServer{data: data}
			rs.etag.Store(`"v1"`)
			var ranged atomic.Int64
			url := (&rangeCounter{h: rs, n: &ranged}).url(t)
			release := make(chan struct{})
			var opens, read atomic.Int64
			open := func(ctx context.Context, _ string) (io.Reader, error) {
				s := pipeline.OpenHTTP(ctx, url, fastRetry)
				if opens.Add(1) == 1 {
					return &heldHTTP{s: s, head: 50 << 10, open: release}, nil
				}
				return countedSource{HTTPSource: s, n: &read}, nil
			}
			seekAheadCopied(t, open, release, own, 45*time.Second)
			assert.Positive(t, ranged.Load(), "requests by range")
			before := int64(len(data)) * 45 / 60
			assert.Less(t, read.Load(), before, "the segment's source not read from its start: %d bytes read, about %d before the target", read.Load(), before)
		})
	}
}

// rangeCounter counts the requests for a range that it passes to h.
type rangeCounter struct {
	h http.Handler
	n *atomic.Int64
}

func (rc *rangeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Range") != "" {
		rc.n.Add(1)
	}
	rc.h.ServeHTTP(w, r)
}

func (rc *rangeCounter) url(t *testing.T) string {
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return srv.URL
}
