package codec_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// An MP3 is decoded and encoded to Opus once, inside a Catcher; the
// published index maps time to packets while readers read them.
func Example() {
	f, err := os.Open("../testdata/prog_48000.mp3")
	if err != nil {
		panic(err)
	}
	enc, err := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(96000))
	if err != nil {
		panic(err)
	}
	c := catcher.New(f, catcher.WithTransform(catcher.Chain(codec.NewMP3Decoder(), codec.NewFramer(enc))))
	defer c.Close() // closes f
	if err := c.Load(context.Background()); err != nil {
		panic(err)
	}
	x, _, _ := catcher.StateOf[codec.Index](c)
	fmt.Println(x.Len(), "packets of", x.Uniform, "samples;", x.Duration(), "exactly")

	// Play from 1.5 s: find the packet, read from it.
	i, skip := x.FindTime(1500 * time.Millisecond)
	r := codec.NewPacketReader(c.NewReader())
	if err := r.SeekPacket(x.Offsets[i]); err != nil {
		panic(err)
	}
	p, err := r.ReadPacket()
	if err != nil {
		panic(err)
	}
	n, _ := codec.PacketSamples(p)
	fmt.Printf("packet %d, drop %d of its %d samples\n", i, skip, n)
	// Output:
	// 151 packets of 960 samples; 3s exactly
	// packet 75, drop 312 of its 960 samples
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
