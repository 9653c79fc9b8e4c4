package framed_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// cannedSource is a PacketSource of given packets. If read is set, it
// reads a byte of src for each packet; else it ignores src.
type cannedSource struct {
	packets [][]byte
	i       int
	preskip int64
	length  int64
	max     int
	read    bool
}

func (c *cannedSource) NextPacket(src io.Reader) ([]byte, error) {
	if c.i == len(c.packets) {
		return nil, io.EOF
	}
	if c.read {
		var b [1]byte
		if _, err := io.ReadFull(src, b[:]); err != nil {
			return nil, err
		}
	}
	c.i++
	return c.packets[c.i-1], nil
}
func (c *cannedSource) PreSkip() int64 { return c.preskip }
func (c *cannedSource) Length() int64  { return c.length }
func (c *cannedSource) MaxPacketSize() int {
	if c.max > 0 {
		return c.max
	}
	return opus.MaxPacketSize
}

// celtPacket returns a CELT fullband mono packet of one frame of the given
// duration (120, 240, 480 or 960 samples) with a payload of n bytes, each
// byte its offset plus seed.
func celtPacket(samples int64, n int, seed byte) []byte {
	cfg := map[int64]byte{120: 28, 240: 29, 480: 30, 960: 31}[samples]
	p := make([]byte, 1+n)
	p[0] = cfg << 3
	for i := 1; i < len(p); i++ {
		p[i] = byte(i) + seed
	}
	return p
}

func loadFramed(t *testing.T, ps framed.PacketSource, opts ...catcher.Option) (*catcher.Catcher, framed.Index) {
	t.Helper()
	c := catcher.New(nil, append(opts, catcher.WithTransform(framed.NewFramer(ps)))...)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Load(context.Background()))
	x, n, ok := catcher.StateOf[framed.Index](c)
	require.True(t, ok)
	require.Equal(t, n, x.End())
	return c, x
}

func TestIndexBinarySearch(t *testing.T) {
	sizes := []int64{960, 960, 480, 120, 960, 240, 960}
	var packets [][]byte
	for i, s := range sizes {
		packets = append(packets, celtPacket(s, 10, byte(i)))
	}
	_, x := loadFramed(t, &cannedSource{packets: packets, preskip: 100, length: -1})
	require.Equal(t, len(sizes), x.Packets())
	assert.Zero(t, x.Uniform())
	var total int64
	starts := make([]int64, len(sizes))
	for i, s := range sizes {
		starts[i] = total
		total += s
	}
	assert.Equal(t, total, x.DecodedSamples())
	assert.Equal(t, total-100, x.DurationSamples(), "no true length: the total less the pre-skip")
	for i := range sizes {
		e := x.Entry(i)
		assert.Equal(t, framed.Entry{Offset: int64(i * (framed.PrefixSize + 11)), Size: 11, Start: starts[i], Samples: sizes[i]}, e)
	}
	// Against a linear reference, at every sample.
	for pos := int64(0); pos < total-100; pos++ {
		s := pos + 100
		want := 0
		for want+1 < len(sizes) && starts[want+1] <= s {
			want++
		}
		i, skip := x.Find(pos)
		require.Equal(t, want, i, "pos %d", pos)
		require.Equal(t, s-starts[want], skip, "pos %d", pos)
	}
	i, _ := x.Find(total)
	assert.Equal(t, len(sizes), i, "past the end")
	assert.Panics(t, func() { x.Entry(len(sizes)) })
}

func TestIndexUniformWithShortLast(t *testing.T) {
	packets := [][]byte{celtPacket(960, 5, 0), celtPacket(960, 5, 1), celtPacket(480, 5, 2)}
	_, x := loadFramed(t, &cannedSource{packets: packets, length: 2000})
	assert.Equal(t, int64(960), x.Uniform(), "a shorter last packet keeps the index uniform")
	assert.EqualValues(t, 2000, x.DurationSamples(), "the true length trims the end")
	assert.Equal(t, opus.Duration(2000), x.Duration())
	i, skip := x.Find(1999)
	assert.Equal(t, 2, i)
	assert.Equal(t, int64(1999-1920), skip)
	assert.True(t, x.Done())
}

// DecodeFrom pre-rolls 80 ms before the target, counting the pre-skip
// region, whatever the packet size and the pre-skip.
func TestIndexDecodeFrom(t *testing.T) {
	for _, tc := range []struct {
		name    string
		packet  int64
		preskip int64
	}{
		{"20 ms", 960, 312},
		{"2.5 ms", 120, 312},
		{"2.5 ms, large pre-skip", 120, 3840},
		{"20 ms, large pre-skip", 960, 3840},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var packets [][]byte
			for i := range 400 {
				packets = append(packets, celtPacket(tc.packet, 3, byte(i)))
			}
			_, x := loadFramed(t, &cannedSource{packets: packets, preskip: tc.preskip, length: -1})
			for _, pos := range []int64{0, 1, 1000, 3839, 3840, 5000, x.DurationSamples() - 1} {
				i, drop := x.DecodeFrom(pos)
				e := x.Entry(i)
				target := pos + tc.preskip
				assert.Equal(t, target, e.Start+drop, "pos %d: decoding from packet %d and dropping %d reaches it", pos, i, drop)
				assert.GreaterOrEqual(t, drop, min(target, int64(opus.PreRoll)), "pos %d: at least 80 ms of pre-roll where the stream has it", pos)
				assert.Less(t, drop, int64(opus.PreRoll)+tc.packet, "pos %d: no more than a packet beyond it", pos)
			}
			i, drop := x.DecodeFrom(0)
			assert.Equal(t, 0, i, "the start decodes from the first packet")
			assert.Equal(t, tc.preskip, drop)
		})
	}
}

func TestFramerCorruptPacket(t *testing.T) {
	packets := [][]byte{celtPacket(960, 5, 0), {31<<3 | 1, 1, 2, 3}} // code 1 with an odd payload
	c := catcher.New(nil, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1})))
	defer c.Close()
	err := c.Load(context.Background())
	assert.ErrorIs(t, err, opus.ErrCorruptPacket)
	b, err := io.ReadAll(c.NewReader())
	assert.ErrorIs(t, err, opus.ErrCorruptPacket)
	assert.Len(t, b, framed.PrefixSize+6, "the good packet before it is kept")
}

func TestFramerPacketOverLimit(t *testing.T) {
	packets := [][]byte{celtPacket(960, 5, 0), celtPacket(960, 50, 0)}
	f := framed.NewFramer(&cannedSource{packets: packets, length: -1, max: 20})
	assert.Equal(t, framed.PrefixSize+20, f.MinSpace(), "MinSpace is the source's largest record")
	c := catcher.New(nil, catcher.WithTransform(f))
	defer c.Close()
	assert.ErrorIs(t, c.Load(context.Background()), opus.ErrCorruptPacket)
	assert.Panics(t, func() { framed.NewFramer(&cannedSource{max: opus.MaxPacketSize + 1}) })
}

// An Index read while the fill goes on describes exactly the bytes
// published with it and never changes afterwards.
func TestIndexWhileFilling(t *testing.T) {
	var packets [][]byte
	for i := range 2000 {
		packets = append(packets, celtPacket(960, 1+i%200, byte(i)))
	}
	src := iotest.OneByteReader(bytes.NewReader(make([]byte, len(packets))))
	c := catcher.New(src, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, read: true})),
		catcher.WithGrowth(catcher.Constant(4096)))
	defer c.Close()
	type seen struct {
		x       framed.Index
		entries []framed.Entry
	}
	var got []seen
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !c.Finished() {
			x, n, ok := catcher.StateOf[framed.Index](c)
			if !ok {
				continue
			}
			if x.End() != n {
				t.Errorf("index ends at %d; published length %d", x.End(), n)
				return
			}
			s := seen{x: x}
			for i := range x.Packets() {
				s.entries = append(s.entries, x.Entry(i))
			}
			got = append(got, s)
		}
	}()
	require.NoError(t, c.Load(context.Background()))
	wg.Wait()
	for _, s := range got {
		for i, e := range s.entries {
			require.Equal(t, e, s.x.Entry(i), "an Index changed after it was published")
		}
	}
	t.Logf("%d indexes checked", len(got))
}

func TestReaderErrors(t *testing.T) {
	rec := func(n int) []byte {
		b := binary.LittleEndian.AppendUint16(nil, uint16(n))
		return append(b, make([]byte, n)...)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"prefix cut", []byte{5}, io.ErrUnexpectedEOF},
		{"packet cut", rec(10)[:8], io.ErrUnexpectedEOF},
		{"zero length", []byte{0, 0, 1}, framed.ErrCorrupt},
		{"too long", binary.LittleEndian.AppendUint16(nil, opus.MaxPacketSize+1), framed.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := framed.NewReader(bytes.NewReader(tt.in)).ReadPacket()
			assert.ErrorIs(t, err, tt.want)
		})
	}
	_, err := framed.NewReader(bytes.NewReader(nil)).ReadPacket()
	assert.Equal(t, io.EOF, err)
	assert.Error(t, framed.NewReader(io.MultiReader()).SeekRecord(0), "not a seeker")
}

func TestReaderContext(t *testing.T) {
	// Over a catcher whose source blocks, a cancelled context ends the wait.
	pr, pw := io.Pipe()
	defer pw.Close()
	c := catcher.New(pr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := framed.NewReader(c.NewReader()).ReadPacketContext(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// The Reader reads back what the Framer wrote, and resumes at any record.
func TestReaderRoundTrip(t *testing.T) {
	var packets [][]byte
	for i := range 300 {
		packets = append(packets, celtPacket(960, 1+(i*37)%1200, byte(i)))
	}
	c, x := loadFramed(t, &cannedSource{packets: packets, length: -1}, catcher.WithGrowth(catcher.Constant(2048)))
	pr := framed.NewReader(c.NewReader())
	for i, w := range packets {
		p, err := pr.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		require.Equal(t, w, p, "packet %d", i)
	}
	_, err := pr.ReadPacket()
	assert.Equal(t, io.EOF, err)
	for _, i := range []int{100, 0, 299, 37} {
		require.NoError(t, pr.SeekRecord(x.Entry(i).Offset))
		p, err := pr.ReadPacket()
		require.NoError(t, err)
		assert.Equal(t, packets[i], p, "packet %d after a seek", i)
	}
}

// With MaxBytes, the Index lists exactly the packets cached.
func TestIndexExactAtMaxBytes(t *testing.T) {
	var packets [][]byte
	for i := range 20 {
		packets = append(packets, celtPacket(960, 100, byte(i)))
	}
	c := catcher.New(nil, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, max: 200})),
		catcher.WithMaxBytes(906))
	defer c.Close()
	assert.ErrorIs(t, c.Load(context.Background()), catcher.ErrTooLong)
	x, n, ok := catcher.StateOf[framed.Index](c)
	require.True(t, ok)
	assert.Equal(t, n, x.End(), "the Index ends where the cached bytes do")
	assert.Equal(t, 8, x.Packets(), "8 records of 103 bytes fit in 906")
	assert.Equal(t, int64(8*103), c.Len())
}

// With an index window, the Index forgets older packets, and its memory is
// bounded however many packets pass.
func TestIndexWindow(t *testing.T) {
	var packets [][]byte
	for i := range 10_000 {
		packets = append(packets, celtPacket(960, 10, byte(i)))
	}
	c := catcher.New(nil, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, max: 100},
		framed.WithIndexWindow(100))), catcher.WithWindow(5000))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	x, _, _ := catcher.StateOf[framed.Index](c)
	assert.Equal(t, 10_000, x.Packets())
	assert.GreaterOrEqual(t, x.First(), 10_000-200)
	assert.LessOrEqual(t, x.First(), 10_000-100)
	assert.Less(t, x.Size(), int64(4*200*8+200), "bounded")
	e := x.Entry(9999)
	assert.Equal(t, int64(9999*960), e.Start)
	i, skip := x.Find(9998 * 960)
	assert.Equal(t, 9998, i)
	assert.Zero(t, skip)
	i, _ = x.Find(0)
	assert.Equal(t, x.First(), i, "a position forgotten maps to the first packet indexed")

	// A cursor left behind is told, and skips to the oldest packet cached.
	cur := framed.NewCursor(c)
	_, err := cur.Next()
	assert.ErrorIs(t, err, catcher.ErrEvicted)
	skipped := cur.SkipToOldest()
	assert.Positive(t, skipped)
	p, err := cur.Next()
	require.NoError(t, err)
	assert.Equal(t, packets[p.Index], p.Data)
	assert.Zero(t, cur.SkipToOldest(), "not behind")
	assert.Panics(t, func() { framed.WithIndexWindow(0) })
}
