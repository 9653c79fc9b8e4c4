package pipeline_test

import (
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// A Queue plays a Library's tracks one after another; commands may come
// from any goroutine, and events tell what it does. Here a loop drives
// it, as a Scheduler or a voice library's frame provider would.
func ExampleQueue() {
	lib := pipeline.NewLibrary()
	defer lib.Close()
	q := pipeline.NewQueue(lib, pipeline.WithEndWhenEmpty(), pipeline.WithPositionEvery(0),
		pipeline.WithEventFunc(func(e pipeline.Event) { // on the driver's goroutine: must not block
			switch e.Kind {
			case pipeline.EventStarted:
				fmt.Println("started", e.ID, e.Key.Source)
			case pipeline.EventEnded:
				fmt.Println("ended", e.ID, e.Reason)
			}
		}))
	defer q.Close()
	q.Enqueue(pipeline.Key{Source: "../testdata/prog_48000.mp3"})
	second := q.Enqueue(pipeline.Key{Source: "../testdata/prog.opus"})
	q.Seek(second, 0) // not the current entry yet: does nothing

	packets, skipped := 0, false
	for {
		pk, err := q.Next()
		if err == pipeline.ErrUnderrun {
			time.Sleep(time.Millisecond) // loading: a Scheduler would try again at the next deadline
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		packets++
		if !skipped && pk.Position >= 2*48000 && q.State().Current.ID == second {
			q.Skip(1) // two seconds in: applied at the next packet
			skipped = true
		}
	}
	fmt.Println(packets, "packets")
	// Output:
	// started 1 ../testdata/prog_48000.mp3
	// ended 1 finished
	// started 2 ../testdata/prog.opus
	// ended 2 skipped
	// 258 packets
}
