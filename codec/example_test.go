package codec_test

import (
	"context"
	"fmt"
	"os"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// A decoder for whatever the input turns out to be, converted to the
// format wanted; it is built inside the fill, so New reads nothing.
func ExampleNewDecoder() {
	f, err := os.Open("../testdata/prog_cbr128.mp3")
	if err != nil {
		panic(err)
	}
	d, err := codec.NewDecoder(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE})
	if err != nil {
		panic(err)
	}
	c := catcher.New(f, catcher.WithTransform(d))
	defer c.Close() // closes f, if the end of the stream has not already
	if err := c.Load(context.Background()); err != nil {
		panic(err)
	}
	src, _, _ := catcher.StateOf[codec.Source](c)
	fmt.Printf("%v at %v, decoded to %d bytes: 3 s at 48 kHz\n", src.Kind, src.Format, c.Len())
	// Output: MP3 at 44100 Hz, 2 ch, f32le, decoded to 576000 bytes: 3 s at 48 kHz
}

// Detect tells the kind of an input from its first bytes.
func ExampleDetect() {
	for _, name := range []string{"prog_id3.mp3", "prog.opus", "tone_s16_44100_1.wav", "notaudio.txt"} {
		b, _ := os.ReadFile("../testdata/" + name)
		k, err := codec.Detect(b[:min(len(b), codec.DetectSize)])
		fmt.Println(name, k, err)
	}
	// Output:
	// prog_id3.mp3 MP3 <nil>
	// prog.opus Ogg Opus <nil>
	// tone_s16_44100_1.wav WAV <nil>
	// notaudio.txt unknown codec: unknown format
}
