package bench

// Benchmarks of the transform package's resampler: 44.1 kHz to 48 kHz
// stereo, each preset, beside a naive linear-interpolation resampler, in
// times real time on one core. sox.sh times soxr (sox's rate effect) on the
// same input; README.md compares them.
//
//	go test -run '^$' -bench Transform -benchmem -cpu 1 -count 6 ./bench

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/streamcatcher/streamcatcher/transform"
)

const (
	resampleIn  = 44100
	resampleOut = 48000
)

// transformInput is the benchmarks' input: stereo f32le at 44.1 kHz. It is
// read from the file named by $BENCH_TRANSFORM_INPUT (sox.sh makes it and
// times sox on it) if set, else made here: 10 s of music-like signal, a
// chord of slowly gliding partials over noise, the same on every run.
var transformInput = sync.OnceValues(func() ([]byte, error) {
	if name := os.Getenv("BENCH_TRANSFORM_INPUT"); name != "" {
		return os.ReadFile(name)
	}
	const frames = 10 * resampleIn
	b := make([]byte, 8*frames)
	rng := rand.New(rand.NewPCG(44100, 48000))
	partials := []float64{110, 220, 277.2, 329.6, 440, 880, 1760, 3520, 7040, 14080}
	for i := range frames {
		t := float64(i) / resampleIn
		for c := range 2 {
			v := 0.05 * (rng.Float64()*2 - 1)
			for k, f := range partials {
				f *= 1 + 0.01*math.Sin(2*math.Pi*0.1*t+float64(k+c))
				v += 0.08 / float64(k+1) * math.Sin(2*math.Pi*f*t+float64(c))
			}
			binary.LittleEndian.PutUint32(b[8*i+4*c:], math.Float32bits(float32(v)))
		}
	}
	return b, nil
})

// loop repeats its bytes for ever, so that a benchmark can run a resampler
// for as long as it needs without making a new one.
type loop struct {
	b   []byte
	off int
}

func (l *loop) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

// pcmTransform is what the benchmarks run: a catcher.Transform.
type pcmTransform interface {
	Transform(dst []byte, src io.Reader) (int, error)
	MinSpace() int
}

// benchResample runs t (made once; each operation continues its stream)
// and reports one second of output per operation: x-realtime is seconds of
// audio resampled per second, on the one goroutine that runs it.
func benchResample(b *testing.B, t pcmTransform, in []byte, outFrame int) {
	src := &loop{b: in}
	dst := make([]byte, 64<<10)
	perOp := resampleOut * outFrame // one second of output
	b.SetBytes(int64(perOp))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for done := 0; done < perOp; {
			n, err := t.Transform(dst[:min(len(dst), perOp-done)], src)
			if err != nil {
				b.Fatal(err)
			}
			done += n
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}

func BenchmarkTransformResample44to48(b *testing.B) {
	in, err := transformInput()
	if err != nil {
		b.Fatal(err)
	}
	f32 := transform.Format{Rate: resampleIn, Channels: 2, Encoding: transform.F32LE}
	for _, q := range []transform.Quality{transform.Fast, transform.Medium, transform.High} {
		b.Run(q.String(), func(b *testing.B) {
			r, err := transform.NewResampler(f32, resampleOut, q)
			if err != nil {
				b.Fatal(err)
			}
			benchResample(b, r, in, 8)
		})
	}
	b.Run("linear", func(b *testing.B) {
		benchResample(b, newLinear(resampleIn, resampleOut), in, 8)
	})
	// The voice-bot path: 16-bit in and out.
	s16 := runOnce(b, must(transform.NewConvert(f32, transform.S16LE)), in)
	for _, q := range []transform.Quality{transform.Fast, transform.Medium, transform.High} {
		b.Run(q.String()+"-s16", func(b *testing.B) {
			r, err := transform.NewResampler(transform.Format{Rate: 44100, Channels: 2}, resampleOut, q)
			if err != nil {
				b.Fatal(err)
			}
			benchResample(b, r, s16, 4)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func runOnce(b *testing.B, t pcmTransform, in []byte) []byte {
	var out bytes.Buffer
	dst := make([]byte, 64<<10)
	src := bytes.NewReader(in)
	for {
		n, err := t.Transform(dst, src)
		out.Write(dst[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// linearResampler is the naive baseline: stereo f32le, each output the
// linear interpolation of the two input frames around its time, k*in/out.
// It streams, keeping the input frames not yet used, and follows the
// Transform contract for the benchmark (it never ends: the benchmark's
// source does not).
type linearResampler struct {
	in, out int64
	k       int64     // next output
	base    int64     // input frame of buf[0:2]
	have    int       // frames in buf
	buf     []float32 // interleaved frames base, base+1, ...
	raw     []byte
}

const linearBlock = 4096

func newLinear(in, out int) *linearResampler {
	return &linearResampler{in: int64(in), out: int64(out),
		raw: make([]byte, 8*linearBlock), buf: make([]float32, 2*(linearBlock+2))}
}

func (l *linearResampler) MinSpace() int { return 8 }

func (l *linearResampler) Transform(dst []byte, src io.Reader) (int, error) {
	// Read whole frames (the benchmark's source gives whole frames).
	n, err := io.ReadFull(src, l.raw[:8*min(linearBlock, len(l.buf)/2-l.have)])
	if err != nil {
		return 0, err
	}
	for i := range n / 8 {
		l.buf[2*(l.have+i)] = math.Float32frombits(binary.LittleEndian.Uint32(l.raw[8*i:]))
		l.buf[2*(l.have+i)+1] = math.Float32frombits(binary.LittleEndian.Uint32(l.raw[8*i+4:]))
	}
	l.have += n / 8
	w := 0
	for w+8 <= len(dst) {
		num := l.k * l.in
		i, f := num/l.out, float32(num%l.out)/float32(l.out)
		j := int(i - l.base)
		if j+2 > l.have {
			break
		}
		a, b := l.buf[2*j:2*j+4:2*j+4], dst[w:w+8:w+8]
		binary.LittleEndian.PutUint32(b, math.Float32bits(a[0]+f*(a[2]-a[0])))
		binary.LittleEndian.PutUint32(b[4:], math.Float32bits(a[1]+f*(a[3]-a[1])))
		w += 8
		l.k++
	}
	// Keep the frames from the next output's first on.
	drop := int(l.k*l.in/l.out - l.base)
	copy(l.buf, l.buf[2*drop:2*l.have])
	l.have -= drop
	l.base += int64(drop)
	return w, nil
}

// The baseline computes linear interpolation: its output lines up with the
// transform package's reference measurements (SNR of a 1 kHz sine about
// 55 dB against the ideal one at 48 kHz).
func TestTransformLinearBaseline(t *testing.T) {
	in := make([]byte, 8*resampleIn)
	for i := range resampleIn {
		v := float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/resampleIn))
		binary.LittleEndian.PutUint32(in[8*i:], math.Float32bits(v))
		binary.LittleEndian.PutUint32(in[8*i+4:], math.Float32bits(v))
	}
	l := newLinear(resampleIn, resampleOut)
	src := &loop{b: in}
	var out []byte
	dst := make([]byte, 8*1000)
	for len(out) < 8*40000 {
		n, err := l.Transform(dst, src)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dst[:n]...)
	}
	var sig, noise float64
	for k := 1000; k < 40000; k++ {
		want := 0.5 * math.Sin(2*math.Pi*1000*float64(k)/resampleOut)
		for c := range 2 {
			got := float64(math.Float32frombits(binary.LittleEndian.Uint32(out[8*k+4*c:])))
			sig += want * want
			noise += (got - want) * (got - want)
		}
	}
	if snr := 10 * math.Log10(sig/noise); snr < 50 || snr > 60 {
		t.Errorf("SNR of the linear baseline %.1f dB; want about 55", snr)
	}
}

// BenchmarkTransformConvertDither is the conversion a track makes after
// resampling: 48 kHz stereo float to 16 bits with TPDF dither (and
// without), one second of output an operation.
func BenchmarkTransformConvertDither(b *testing.B) {
	in, err := transformInput()
	if err != nil {
		b.Fatal(err)
	}
	f32 := transform.Format{Rate: resampleOut, Channels: 2, Encoding: transform.F32LE}
	for _, d := range []struct {
		name string
		opts []transform.ConvertOption
	}{{"dither", []transform.ConvertOption{transform.WithDither(1)}}, {"plain", nil}} {
		b.Run(d.name, func(b *testing.B) {
			benchResample(b, must(transform.NewConvert(f32, transform.S16LE, d.opts...)), in, 4)
		})
	}
}
