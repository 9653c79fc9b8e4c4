package transform_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// A 44.1 kHz 16-bit stereo stream (an MP3 decoder's output, say) is
// resampled to 48 kHz once, inside a Catcher, in float with dithered 16-bit
// output; every listener reads the same cached bytes.
func Example() {
	f32 := transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}
	toFloat, _ := transform.NewConvert(transform.Format{Rate: 44100, Channels: 2}, transform.F32LE)
	resample, _ := transform.NewResampler(f32, 48000, transform.High)
	to16, _ := transform.NewConvert(resample.Out(), transform.S16LE, transform.WithDither(1))

	decoded := bytes.NewReader(make([]byte, 2*44100*4)) // two seconds of silence
	c := catcher.New(decoded, catcher.WithTransform(catcher.Chain(toFloat, resample, to16)))
	defer c.Close()

	a, _ := io.ReadAll(c.NewReader())
	b, _ := io.ReadAll(c.NewReader())
	fmt.Println(len(a)/transform.Format{Rate: 48000, Channels: 2}.BytesPerFrame(), "frames at", to16.Out())
	fmt.Println("same bytes for both readers:", bytes.Equal(a, b))
	// Output:
	// 96000 frames at 48000 Hz, 2 ch, s16le
	// same bytes for both readers: true
}

func ExampleFormat() {
	f := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}
	fmt.Println(f)
	fmt.Println(f.BytesPerFrame(), "bytes a frame")
	fmt.Println(f.Duration(960), "for 960 frames")
	fmt.Println(f.Frames(time.Second), "frames a second")
	// Output:
	// 48000 Hz, 2 ch, s16le
	// 4 bytes a frame
	// 20ms for 960 frames
	// 48000 frames a second
}

func ExampleNewConvert() {
	in := transform.Format{Rate: 8000, Channels: 1, Encoding: transform.F32LE}
	c, err := transform.NewConvert(in, transform.S16LE)
	if err != nil {
		panic(err)
	}
	src := bytes.NewReader(f32(0.5, -1, 1.5, 1.5/32768))
	out, err := io.ReadAll(catcher.NewTransformReader(src, c))
	fmt.Println(samples16(out), err)
	// Output:
	// [16384 -32768 32767 2] <nil>
}

func ExampleNewGain() {
	g, err := transform.NewGain(transform.Format{Rate: 44100, Channels: 2}, transform.DB(-20)) // a tenth
	if err != nil {
		panic(err)
	}
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(s16(1000, -1000, 32767, 4)), g))
	fmt.Println(samples16(out), err)
	// Output:
	// [100 -100 3277 0] <nil>
}

func ExampleStereoToMono() {
	m, err := transform.StereoToMono(transform.Format{Rate: 44100, Channels: 2})
	if err != nil {
		panic(err)
	}
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(s16(100, 300, -32768, -32768)), m))
	fmt.Println(samples16(out), m.Out(), err)
	// Output:
	// [200 -32768] 44100 Hz, 1 ch, s16le <nil>
}

// A stream whose input ends inside a frame gives its whole frames, then an
// error that says so.
func ExampleErrPartialFrame() {
	c, _ := transform.NewConvert(transform.Format{Rate: 44100, Channels: 2}, transform.F32LE)
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader([]byte{0, 0x40, 0, 0xc0, 1}), c))
	fmt.Println(len(out), "bytes:", err)
	// Output:
	// 8 bytes: transform: input ends inside a frame: 1 trailing bytes, frame is 4
}

func ExampleNewResampler() {
	in := transform.Format{Rate: 8000, Channels: 1, Encoding: transform.F32LE}
	r, err := transform.NewResampler(in, 48000, transform.Fast)
	if err != nil {
		panic(err)
	}
	// An impulse: upsampled by a whole factor, the input samples come
	// through at the output times that fall on them, with no delay.
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(f32(1, 0, 0, 0)), r))
	y := make([]string, len(out)/4)
	for i := range y {
		y[i] = fmt.Sprintf("%.2f", math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])))
	}
	fmt.Println(len(y), "frames for 4:", r.OutFrames(4), err)
	fmt.Println(y[:7])
	// Output:
	// 24 frames for 4: 24 <nil>
	// [1.00 0.95 0.82 0.63 0.41 0.19 0.00]
}

func samples16(b []byte) []int16 {
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}
