package libopus_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
)

// A 44.1 kHz MP3 is decoded, resampled to 48 kHz and encoded to Opus once,
// inside a Catcher; listeners' cursors read its packets, lent from the
// cache, and seek by time through the published index.
func Example() {
	f, err := os.Open("../../testdata/prog_cbr128.mp3")
	if err != nil {
		panic(err)
	}
	dec, err := codec.NewDecoder(libopus.Format(2)) // to 48 kHz stereo s16
	if err != nil {
		panic(err)
	}
	enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithBitrate(96000))
	if err != nil {
		panic(err)
	}
	c := catcher.New(f, catcher.WithTransform(catcher.Chain(dec, framed.NewFramer(enc))))
	defer c.Close()
	if err := c.Load(context.Background()); err != nil {
		panic(err)
	}
	x, _, _ := catcher.StateOf[framed.Index](c)
	fmt.Println(x.Packets(), "packets of", x.Uniform(), "samples;", x.Duration(), "exactly")

	// A listener plays from 1.5 s.
	cur := framed.NewCursor(c)
	i, skip := x.FindTime(1500 * time.Millisecond)
	cur.Seek(i)
	p, err := cur.Next()
	if err != nil {
		panic(err)
	}
	fmt.Printf("packet %d starts at sample %d; drop %d of its %d\n", p.Index, p.Start, skip, p.Samples)
	// Output:
	// 151 packets of 960 samples; 3s exactly
	// packet 75 starts at sample 72000; drop 312 of its 960
}
