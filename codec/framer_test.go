package codec_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
)

// cannedSource is a PacketSource of given packets, ignoring src.
type cannedSource struct {
	packets [][]byte
	i       int
	preskip int
	length  int64
}

func (c *cannedSource) NextPacket(io.Reader) ([]byte, error) {
	if c.i == len(c.packets) {
		return nil, io.EOF
	}
	c.i++
	return c.packets[c.i-1], nil
}
func (c *cannedSource) PreSkip() int  { return c.preskip }
func (c *cannedSource) Length() int64 { return c.length }

// celtPacket returns a CELT fullband mono packet of one frame of the given
// duration (120, 240, 480 or 960 samples) with a payload of n bytes.
func celtPacket(samples, n int) []byte {
	cfg := map[int]byte{120: 28, 240: 29, 480: 30, 960: 31}[samples]
	p := make([]byte, 1+n)
	p[0] = cfg << 3
	for i := 1; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

func loadFramed(t *testing.T, src io.Reader, ps codec.PacketSource) (*catcher.Catcher, codec.Index) {
	t.Helper()
	c := catcher.New(src, catcher.WithTransform(codec.NewFramer(ps)))
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Load(context.Background()))
	st, n := c.State()
	x, ok := st.(codec.Index)
	require.True(t, ok, "state is %T", st)
	require.Equal(t, n, x.End)
	return c, x
}

func TestFramerOggOpus(t *testing.T) {
	data := fixture(t, "prog.opus")
	want := readOggOpus(t, bytes.NewReader(data))
	c, x := loadFramed(t, bytes.NewReader(data), codec.NewOggOpusDemuxer())
	assert.Equal(t, 151, x.Len())
	assert.EqualValues(t, 144000, x.Length)
	assert.Equal(t, 312, x.PreSkip)
	assert.Equal(t, 960, x.Uniform)
	assert.True(t, x.Done)
	assert.Equal(t, 3*time.Second, x.Duration())

	pr := codec.NewPacketReader(c.NewReader())
	for i, w := range want.packets {
		p, err := pr.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		require.True(t, bytes.Equal(w, p), "packet %d differs", i)
	}
	_, err := pr.ReadPacket()
	assert.Equal(t, io.EOF, err)

	// Resume at any boundary.
	for _, i := range []int{100, 0, 150, 37} {
		require.NoError(t, pr.SeekPacket(x.Offsets[i]))
		p, err := pr.ReadPacket()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want.packets[i], p), "packet %d after a seek", i)
	}

	// Time to packet.
	i, skip := x.Find(0)
	assert.Equal(t, 0, i)
	assert.Equal(t, 312, skip)
	i, skip = x.Find(143999)
	assert.Equal(t, 150, i)
	assert.Equal(t, (143999+312)%960, skip)
	i, skip = x.FindTime(time.Second)
	assert.Equal(t, (48000+312)/960, i)
	assert.Equal(t, (48000+312)%960, skip)
}

func TestFramerIndexBinarySearch(t *testing.T) {
	sizes := []int{960, 960, 480, 120, 960, 240, 960}
	var packets [][]byte
	for _, s := range sizes {
		packets = append(packets, celtPacket(s, 10))
	}
	_, x := loadFramed(t, nil, &cannedSource{packets: packets, preskip: 100, length: -1})
	require.Equal(t, len(sizes), x.Len())
	assert.Equal(t, 0, x.Uniform)
	var total int64
	for _, s := range sizes {
		total += int64(s)
	}
	assert.Equal(t, total, x.Samples)
	assert.Equal(t, total-100, x.Length, "no true length: the total less the pre-skip")
	// Against a linear reference, at every sample.
	for pos := int64(0); pos < total-100; pos++ {
		s := pos + 100
		want := 0
		for want+1 < len(sizes) && x.Starts[want+1] <= s {
			want++
		}
		i, skip := x.Find(pos)
		require.Equal(t, want, i, "pos %d", pos)
		require.Equal(t, int(s-x.Starts[want]), skip, "pos %d", pos)
	}
	i, _ := x.Find(total)
	assert.Equal(t, len(sizes), i, "past the end")
}

func TestFramerUniformWithShortLast(t *testing.T) {
	packets := [][]byte{celtPacket(960, 5), celtPacket(960, 5), celtPacket(480, 5)}
	_, x := loadFramed(t, nil, &cannedSource{packets: packets, preskip: 0, length: 2000})
	assert.Equal(t, 960, x.Uniform, "a shorter last packet keeps the index uniform")
	assert.EqualValues(t, 2000, x.Length, "the true length trims the end")
	i, skip := x.Find(1999)
	assert.Equal(t, 2, i)
	assert.Equal(t, 1999-1920, skip)
}

func TestFramerCorruptPacket(t *testing.T) {
	packets := [][]byte{celtPacket(960, 5), {31<<3 | 1, 1, 2, 3}} // code 1 with an odd payload
	c := catcher.New(nil, catcher.WithTransform(codec.NewFramer(&cannedSource{packets: packets, length: -1})))
	defer c.Close()
	err := c.Load(context.Background())
	assert.ErrorIs(t, err, codec.ErrCorruptPacket)
	b, err := io.ReadAll(c.NewReader())
	assert.ErrorIs(t, err, codec.ErrCorruptPacket)
	assert.Len(t, b, codec.PrefixSize+6, "the good packet before it is kept")
}

func TestFramerStateWhileFilling(t *testing.T) {
	// Readers poll the published Index while the fill goes on: each Index
	// must describe exactly the bytes published with it, and must never
	// change after it was returned.
	data := fixture(t, "prog.opus")
	c := catcher.New(bytes.NewReader(data), catcher.WithTransform(codec.NewFramer(codec.NewOggOpusDemuxer())))
	defer c.Close()
	var wg sync.WaitGroup
	type seen struct {
		x    codec.Index
		offs []int64
	}
	var got []seen
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !c.Finished() {
			st, n := c.State()
			if st == nil {
				continue
			}
			x := st.(codec.Index)
			if x.End != n {
				t.Errorf("index ends at %d; published length %d", x.End, n)
				return
			}
			got = append(got, seen{x, append([]int64(nil), x.Offsets...)})
		}
	}()
	require.NoError(t, c.Load(context.Background()))
	wg.Wait()
	for _, s := range got {
		assert.Equal(t, s.offs, s.x.Offsets, "an Index changed after it was returned")
	}
}

func TestPacketReaderErrors(t *testing.T) {
	rec := func(n int) []byte {
		b := binary.LittleEndian.AppendUint16(nil, uint16(n))
		return append(b, make([]byte, n)...)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"prefix cut", []byte{5}, codec.ErrTruncated},
		{"packet cut", rec(10)[:8], codec.ErrTruncated},
		{"zero length", []byte{0, 0, 1}, codec.ErrCorruptPacket},
		{"too long", binary.LittleEndian.AppendUint16(nil, codec.MaxPacketSize+1), codec.ErrCorruptPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := codec.NewPacketReader(bytes.NewReader(tt.in)).ReadPacket()
			assert.ErrorIs(t, err, tt.want)
		})
	}
	_, err := codec.NewPacketReader(bytes.NewReader(nil)).ReadPacket()
	assert.Equal(t, io.EOF, err)
	assert.Error(t, codec.NewPacketReader(io.MultiReader()).SeekPacket(0), "not a seeker")
}

func TestPacketReaderContext(t *testing.T) {
	// Over a catcher whose source blocks, a cancelled context ends the wait.
	pr, pw := io.Pipe()
	defer pw.Close()
	c := catcher.New(pr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := codec.NewPacketReader(c.NewReader()).ReadPacketContext(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
