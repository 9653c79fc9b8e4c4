package mp3_test

import (
	"context"
	"fmt"
	"os"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
)

// An MP3 decoded once into a cache, to exactly its original length; the
// stream's facts are published with the PCM.
func ExampleDecoder() {
	f, err := os.Open("../../testdata/prog_cbr128.mp3")
	if err != nil {
		panic(err)
	}
	c := catcher.New(f, catcher.WithTransform(mp3.NewDecoder()))
	defer c.Close()
	if err := c.Load(context.Background()); err != nil {
		panic(err)
	}
	info, _, _ := catcher.StateOf[mp3.Info](c)
	fmt.Printf("%d Hz, %d channel(s), encoder delay %d, %d samples\n", info.SampleRate, info.Channels, info.EncoderDelay, info.Length)
	fmt.Println(c.Len()/8, "stereo float32 samples decoded")
	// Output:
	// 44100 Hz, 2 channel(s), encoder delay 576, 132300 samples
	// 132300 stereo float32 samples decoded
}
