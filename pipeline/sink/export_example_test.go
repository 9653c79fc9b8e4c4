//go:build cgo

package sink_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// An export: a clip of a Library's track, from half a second in, its
// section [1 s, 2 s) looped, exactly four seconds long, written as an Ogg
// Opus file of the packets as they are cached (nothing is encoded
// again), then read back. An export may wait: Library.Play waits for the
// track's first packet, Seek for the encoding to reach its position.
func Example_export() {
	lib := pipeline.NewLibrary()
	defer lib.Close()
	ctx := context.Background()
	p, err := lib.Play(ctx, pipeline.Key{Source: "../../testdata/prog_48000.mp3"})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if err := p.Seek(ctx, 500*time.Millisecond); err != nil {
		panic(err)
	}
	if err := p.LoopSection(time.Second, 2*time.Second, -1); err != nil { // -1: without end
		panic(err)
	}

	f, err := os.CreateTemp("", "clip-*.opus")
	if err != nil {
		panic(err)
	}
	defer os.Remove(f.Name())
	head, _ := p.Track().OpusHead() // the track's channels and pre-skip
	n, err := sink.WriteOgg(ctx, f, p, head, opus.Samples(4*time.Second))
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		panic(err)
	}

	// The file read back: Ogg Opus is framed as it is, not encoded.
	clip, err := pipeline.NewTrack(pipeline.OpenFile(f.Name()))
	if err != nil {
		panic(err)
	}
	defer clip.Close()
	<-clip.Done()
	d, exact := clip.Duration()
	fmt.Println(n, "packets,", d, "exact:", exact, clip.Err())
	// Output: 201 packets, 4s exact: true <nil>
}
