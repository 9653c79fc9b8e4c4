package transform_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

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
	g, err := transform.NewGain(transform.CD, transform.DB(-20)) // a tenth
	if err != nil {
		panic(err)
	}
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(s16(1000, -1000, 32767, 4)), g))
	fmt.Println(samples16(out), err)
	// Output:
	// [100 -100 3277 0] <nil>
}

func ExampleStereoToMono() {
	m, err := transform.StereoToMono(transform.CD)
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
	c, _ := transform.NewConvert(transform.CD, transform.F32LE)
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader([]byte{0, 0x40, 0, 0xc0, 1}), c))
	fmt.Println(len(out), "bytes:", err)
	// Output:
	// 8 bytes: transform: input ends inside a frame: 1 trailing bytes, frame is 4
}

func samples16(b []byte) []int16 {
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}
