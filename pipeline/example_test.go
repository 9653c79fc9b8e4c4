package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// A track encoded once, in the background, and read by two listeners, one
// from the start and one from a second in.
func Example() {
	tr, err := pipeline.NewTrack(pipeline.OpenFile("../testdata/prog_id3.mp3"))
	if err != nil {
		panic(err)
	}
	defer tr.Close()

	listen := func(from time.Duration) int {
		cur := tr.NewCursor()
		if from > 0 {
			<-tr.Done() // the index must reach the position; here, simply wait for the end
			x, _ := tr.Index()
			i, _ := x.FindTime(from)
			cur.Seek(i)
		}
		n := 0
		for {
			_, err := cur.NextContext(context.Background())
			if err == io.EOF {
				return n
			}
			if err != nil {
				panic(err)
			}
			n++
		}
	}
	fmt.Println(listen(0), "packets from the start,", listen(time.Second), "from 1 s")
	d, exact := tr.Duration()
	m := tr.Metadata()
	fmt.Println(d, exact, m.Kind, m.Title)
	// Output:
	// 151 packets from the start, 101 from 1 s
	// 3s true MP3 Known Title
}

// A Scheduler drives players in real time; on a FakeClock, a test says
// when time passes.
func ExampleScheduler() {
	tr, err := pipeline.NewTrack(pipeline.OpenFile("../testdata/prog_48000.mp3"))
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	<-tr.Done()

	clock := pipeline.NewFakeClock(time.Unix(0, 0))
	s := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
	defer s.Close()
	ctx := context.Background()
	clock.BlockUntilWaiting(ctx, 1)

	sent := 0
	l := s.Add(tr.NewPlayer(), func(p pipeline.Packet) error {
		sent++ // the packet is lent: copy p.Data to keep it
		return nil
	})
	for range 50 { // one second
		clock.Advance(20 * time.Millisecond)
		clock.BlockUntilWaiting(ctx, 1)
	}
	st := l.Stats()
	fmt.Println(sent, "packets in a second,", st.Underruns, "underruns, lateness", st.Lateness.Max)
	// Output: 50 packets in a second, 0 underruns, lateness 0s
}

// A Library loads a track once for everyone who asks, keeps it under a
// memory budget, and keeps its encoding on disk: a second Library (a
// restarted process) plays it from there, without encoding it.
func ExampleLibrary() {
	dir, err := os.MkdirTemp("", "tracks")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	key := pipeline.Key{Source: "../testdata/prog_48000.mp3", Bitrate: 96000}
	ctx := context.Background()

	for run := range 2 {
		store, err := pipeline.NewDirStore(dir, 1<<30)
		if err != nil {
			panic(err)
		}
		lib := pipeline.NewLibrary(pipeline.WithStore(store), pipeline.WithBudget(64<<20))
		p, err := lib.Play(ctx, key) // a player that holds the track until its Close
		if err != nil {
			panic(err)
		}
		n := 0
		for {
			pk, err := p.Next()
			if err == pipeline.ErrUnderrun {
				time.Sleep(time.Millisecond) // a Scheduler would try again at the next deadline
				continue
			}
			if err != nil {
				break
			}
			if !pk.Silence {
				n++
			}
		}
		p.Close()
		for run == 0 && lib.Stats().Writes == 0 {
			time.Sleep(time.Millisecond) // the encoding is stored in the background
		}
		st := lib.Stats()
		fmt.Printf("run %d: %d packets; encoded %d, read from the store %d\n", run+1, n, st.Encodes, st.DiskHits)
		lib.Close()
	}
	// Output:
	// run 1: 151 packets; encoded 1, read from the store 0
	// run 2: 151 packets; encoded 0, read from the store 1
}
