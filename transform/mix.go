package transform

import (
	"fmt"
	"io"
	"math"
)

// Mix is a Transform that changes the number of channels by a matrix: each
// output sample is a weighted sum of the input frame's samples. The rate and
// encoding stay. Sums are computed in float64, then rounded (ties to even)
// and clipped to the integer range, or clipped to [-1, 1] for F32LE (NaN
// becomes 0). It is not safe for concurrent use.
type Mix struct {
	in, out Format
	m       []float64 // out.Channels rows of in.Channels weights
	x       []float64 // one input frame, scratch
	f       framer
}

// NewMix returns a Mix with len(matrix) output channels, where output
// channel o is the sum over input channels i of matrix[o][i] times input
// sample i. Every row must have in.Channels finite weights. It returns an
// error wrapping ErrFormat otherwise, or if in is not valid. The matrix is
// copied.
func NewMix(in Format, matrix [][]float64) (*Mix, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if len(matrix) < 1 || len(matrix) > MaxChannels {
		return nil, fmt.Errorf("%w: matrix of %d rows (want 1 to %d)", ErrFormat, len(matrix), MaxChannels)
	}
	m := make([]float64, 0, len(matrix)*in.Channels)
	for o, row := range matrix {
		if len(row) != in.Channels {
			return nil, fmt.Errorf("%w: matrix row %d has %d weights for %d input channels", ErrFormat, o, len(row), in.Channels)
		}
		for i, w := range row {
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("%w: matrix weight [%d][%d] is %v", ErrFormat, o, i, w)
			}
		}
		m = append(m, row...)
	}
	out := in
	out.Channels = len(matrix)
	return &Mix{in: in, out: out, m: m, x: make([]float64, in.Channels),
		f: newFramer(in.BytesPerFrame(), out.BytesPerFrame())}, nil
}

// MonoToStereo returns a Mix that copies a mono input to both channels. It
// returns an error wrapping ErrFormat if in is not valid mono.
func MonoToStereo(in Format) (*Mix, error) {
	if in.Channels != 1 {
		return nil, fmt.Errorf("%w: mono to stereo of %d channels", ErrFormat, in.Channels)
	}
	return NewMix(in, [][]float64{{1}, {1}})
}

// StereoToMono returns a Mix that averages the two channels of a stereo
// input: (L+R)/2, which cannot clip. It returns an error wrapping ErrFormat
// if in is not valid stereo.
func StereoToMono(in Format) (*Mix, error) {
	if in.Channels != 2 {
		return nil, fmt.Errorf("%w: stereo to mono of %d channels", ErrFormat, in.Channels)
	}
	return NewMix(in, [][]float64{{0.5, 0.5}})
}

// In returns the input format.
func (m *Mix) In() Format { return m.in }

// Out returns the output format.
func (m *Mix) Out() Format { return m.out }

// MinSpace is one output frame.
func (m *Mix) MinSpace() int { return m.f.out }

// Size is the memory the Mix holds (see catcher.Sizer).
func (m *Mix) Size() int64 { return int64(cap(m.f.buf) + 8*(cap(m.m)+cap(m.x))) }

// Transform reads frames of m.In() from src and writes them mixed into dst,
// following the catcher.Transform contract. Input that ends inside a frame
// ends the stream with an error wrapping ErrPartialFrame, after the whole
// frames.
func (m *Mix) Transform(dst []byte, src io.Reader) (int, error) {
	return m.f.step(dst, src, m)
}

func (m *Mix) process(dst, src []byte) {
	e := m.in.Encoding
	bs := e.BytesPerSample()
	ic, oc := m.in.Channels, m.out.Channels
	for f := 0; f < len(src)/m.f.in; f++ {
		in, out := src[f*m.f.in:], dst[f*m.f.out:]
		for i := range ic {
			m.x[i] = readSample(e, in[i*bs:])
		}
		for o := range oc {
			row := m.m[o*ic : o*ic+ic]
			var s float64
			for i, w := range row {
				s += w * m.x[i]
			}
			writeSample(e, out[o*bs:], s)
		}
	}
}
