package framed_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// The packets of an Ogg Opus file enter a cache through a Framer, as they
// are; each listener's Cursor borrows them, seeking by time.
func Example() {
	f, err := os.Open("../../testdata/prog.opus")
	if err != nil {
		panic(err)
	}
	c := catcher.New(f, catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
	defer c.Close()
	if err := c.Load(context.Background()); err != nil {
		panic(err)
	}
	x, _, _ := catcher.StateOf[framed.Index](c)
	fmt.Println(x.Packets(), "packets,", x.Duration())

	cur := framed.NewCursor(c)
	i, _ := x.FindTime(2 * time.Second)
	cur.Seek(i)
	for range 2 {
		p, err := cur.Next()
		if err != nil {
			panic(err)
		}
		fmt.Printf("packet %d from sample %d, %d samples, TOC %#x\n", p.Index, p.Start, p.Samples, p.Data[0])
	}
	// Output:
	// 151 packets, 3s
	// packet 100 from sample 96000, 960 samples, TOC 0xfc
	// packet 101 from sample 96960, 960 samples, TOC 0xfc
}
