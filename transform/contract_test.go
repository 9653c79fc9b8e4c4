package transform_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// pcm is a transform of this package as the contract tests see it.
type pcm interface {
	catcher.Transform
	// outFrames is the number of output frames for n input frames.
	outFrames(n int64) int64
}

// oneToOne adapts a transform that writes one frame for each frame read.
type oneToOne struct{ t catcher.Transform }

func (o oneToOne) Transform(dst []byte, src io.Reader) (int, error) { return o.t.Transform(dst, src) }
func (o oneToOne) MinSpace() int                                    { return o.t.MinSpace() }
func (oneToOne) outFrames(n int64) int64                            { return n }

// subject is one transform under test: how to make it and the size of its
// input frame.
type subject struct {
	name    string
	inFrame int
	make    func() pcm
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// subjects lists a transform of each kind, over several formats.
func subjects() []subject {
	var ss []subject
	one := func(name string, in transform.Format, mk func() catcher.Transform) {
		ss = append(ss, subject{name, in.BytesPerFrame(), func() pcm { return oneToOne{mk()} }})
	}
	st16 := transform.Format{Rate: 44100, Channels: 2}
	st24 := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S24LE}
	mono32 := transform.Format{Rate: 22050, Channels: 1, Encoding: transform.F32LE}
	six32 := transform.Format{Rate: 48000, Channels: 6, Encoding: transform.F32LE}
	one("convert s16 to f32", st16, func() catcher.Transform { return must(transform.NewConvert(st16, transform.F32LE)) })
	one("convert s24 to s16 dithered", st24, func() catcher.Transform {
		return must(transform.NewConvert(st24, transform.S16LE, transform.WithDither(5)))
	})
	one("convert f32 to s24", mono32, func() catcher.Transform { return must(transform.NewConvert(mono32, transform.S24LE)) })
	one("gain s16", st16, func() catcher.Transform { return must(transform.NewGain(st16, transform.DB(3))) })
	one("gain f32", mono32, func() catcher.Transform { return must(transform.NewGain(mono32, 0.7)) })
	one("mono to stereo f32", mono32, func() catcher.Transform { return must(transform.MonoToStereo(mono32)) })
	one("stereo to mono s24", st24, func() catcher.Transform { return must(transform.StereoToMono(st24)) })
	one("5.1 to stereo f32", six32, func() catcher.Transform {
		return must(transform.NewMix(six32, [][]float64{
			{1, 0, 0.707, 0.5, 0.707, 0}, {0, 1, 0.707, 0.5, 0, 0.707},
		}))
	})
	return append(append(ss, resamplerSubjects()...), filterSubjects()...)
}

// drive runs tr over src, calling Transform directly with dst sizes drawn
// from rng (at least MinSpace, at most maxDst), and checks each return
// against the contract: n within dst and a whole number of frames. It
// returns the output and the error that ended the stream.
func drive(t testing.TB, tr catcher.Transform, src io.Reader, rng *rand.Rand, maxDst int) ([]byte, error) {
	t.Helper()
	unit := tr.MinSpace()
	require.GreaterOrEqual(t, unit, 1)
	var out []byte
	dst := make([]byte, max(maxDst, unit))
	in := &countingReader{r: src}
	for empty, read := 0, int64(0); ; {
		d := dst[:unit+rng.IntN(len(dst)-unit+1)]
		n, err := tr.Transform(d, in)
		require.GreaterOrEqual(t, n, 0)
		require.LessOrEqual(t, n, len(d))
		require.Zero(t, n%unit, "wrote %d bytes, frames of %d", n, unit)
		out = append(out, d[:n]...)
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		// Progress is output, or input taken: a transform that needs
		// a long window before its first output, fed a byte at a time,
		// makes many calls with none.
		if n == 0 && in.n == read {
			empty++
			require.Less(t, empty, 10_000, "no progress")
		} else {
			empty = 0
		}
		read = in.n
	}
}

func TestReadSizesDoNotMatter(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			frames := 3000
			if testing.Short() {
				frames = 700
			}
			in := noise(frames*s.inFrame, 11)
			want, err := run(s.make(), in)
			require.NoError(t, err)
			tr := s.make()
			require.Len(t, want, int(tr.outFrames(int64(frames)))*tr.MinSpace())

			for seed := range uint64(4) {
				rng := rand.New(rand.NewPCG(seed, 3))
				got, err := drive(t, s.make(), newChoppy(bytes.NewReader(in), seed, 1+int(seed)*37), rng, 1+int(seed)*500)
				require.NoError(t, err)
				require.Equal(t, want, got, "seed %d", seed)
			}
			require.NoError(t, iotest.TestReader(
				catcher.NewTransformReader(iotest.OneByteReader(bytes.NewReader(in)), s.make()), want),
				"one byte at a time")
			got, err := io.ReadAll(iotest.OneByteReader(catcher.NewTransformReader(bytes.NewReader(in), s.make())))
			require.NoError(t, err)
			require.Equal(t, want, got, "read one byte at a time")
		})
	}
}

func TestThroughCatcher(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			in := noise(2000*s.inFrame, 12)
			want, err := run(s.make(), in)
			require.NoError(t, err)

			c := catcher.New(iotest.HalfReader(bytes.NewReader(in)),
				catcher.WithTransform(s.make()), catcher.WithGrowth(catcher.Constant(1000)))
			defer c.Close()
			const readers = 8
			got := make([][]byte, readers)
			errs := make([]error, readers)
			var wg sync.WaitGroup
			for i := range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = io.ReadAll(newChoppy(c.NewReader(), uint64(i), 1+i*300))
				}()
			}
			wg.Wait()
			for i := range readers {
				require.NoError(t, errs[i], "reader %d", i)
				require.Equal(t, want, got[i], "reader %d", i)
			}
		})
	}
}

func TestPartialFrame(t *testing.T) {
	for _, s := range subjects() {
		if s.inFrame == 1 {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			in := noise(500*s.inFrame, 13)
			want, err := run(s.make(), in)
			require.NoError(t, err)
			for extra := 1; extra < s.inFrame; extra += max(1, s.inFrame/3) {
				got, err := drive(t, s.make(), newChoppy(bytes.NewReader(append(in, make([]byte, extra)...)), 1, 50),
					rand.New(rand.NewPCG(1, 1)), 300)
				require.ErrorIs(t, err, transform.ErrPartialFrame)
				assert.Contains(t, err.Error(), fmt.Sprintf("%d trailing bytes, frame is %d", extra, s.inFrame))
				assert.Equal(t, want, got, "the whole frames are all written")
			}
		})
	}
}

// failing returns its bytes, then err.
type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			tr := s.make()
			in := noise(100*s.inFrame, 14)
			out, err := drive(t, tr, &failing{bytes.NewReader(in), boom}, rand.New(rand.NewPCG(2, 2)), 64)
			require.ErrorIs(t, err, boom)
			assert.LessOrEqual(t, len(out), int(tr.outFrames(100))*tr.MinSpace())
			n, err := tr.Transform(make([]byte, 1024), bytes.NewReader(in))
			assert.Zero(t, n, "nothing after the end")
			assert.ErrorIs(t, err, boom, "the end is sticky")
		})
	}
}

func TestAfterEnd(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			tr := s.make()
			_, err := drive(t, tr, bytes.NewReader(noise(10*s.inFrame, 15)), rand.New(rand.NewPCG(3, 3)), 64)
			require.NoError(t, err)
			n, err := tr.Transform(make([]byte, 1024), bytes.NewReader(noise(64, 1)))
			assert.Zero(t, n)
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestEmptyInput(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			got, err := run(s.make(), nil)
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}

func TestShortDst(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			tr := s.make()
			n, err := tr.Transform(make([]byte, tr.MinSpace()-1), bytes.NewReader(noise(1000, 1)))
			assert.Zero(t, n)
			assert.ErrorIs(t, err, io.ErrShortBuffer)
		})
	}
}

// endless repeats its bytes for ever.
type endless struct {
	b   []byte
	off int
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.b[e.off:])
	e.off = (e.off + n) % len(e.b)
	return n, nil
}

func TestNoAllocationsOnceRunning(t *testing.T) {
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			tr := s.make()
			src := &endless{b: noise(4096*s.inFrame, 16)}
			dst := make([]byte, 8192)
			for range 10 {
				_, err := tr.Transform(dst, src)
				require.NoError(t, err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := tr.Transform(dst, src); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
