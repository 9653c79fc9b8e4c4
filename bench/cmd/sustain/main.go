// Command sustain measures how many listeners one core drives in real
// time: a Scheduler on the system clock, one shard, the listeners of one
// shared track (looped, so that it never ends), each callback copying its
// packet, for a while; then the lateness percentiles of every packet sent,
// the underruns and resynchronisations, and the memory a listener holds.
//
//	go run ./bench/cmd/sustain -listeners 10000 -duration 60s
//
// GOMAXPROCS is 1 unless -procs says otherwise, so that the figures are
// one core's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/cputime"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

func main() {
	listeners := flag.Int("listeners", 10_000, "listeners of the one track")
	duration := flag.Duration("duration", 60*time.Second, "how long to run them")
	procs := flag.Int("procs", 1, "GOMAXPROCS (and shards)")
	file := flag.String("track", "testdata/prog_48000.mp3", "the track")
	spin := flag.Duration("spin", 0, "wake this long early and yield until each deadline (pipeline.PreciseClock); 0: the plain timer")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	var clock pipeline.Clock = pipeline.SystemClock{}
	if *spin > 0 {
		clock = pipeline.PreciseClock{Spin: *spin}
	}
	baseline(clock, min(*duration, 20*time.Second))
	if err := run(*listeners, *duration, *file, clock); err != nil {
		fmt.Fprintln(os.Stderr, "sustain:", err)
		os.Exit(1)
	}
}

func run(n int, d time.Duration, file string, clock pipeline.Clock) error {
	tr, err := pipeline.NewTrack(pipeline.OpenFile(file))
	if err != nil {
		return err
	}
	defer tr.Close()
	<-tr.Done()
	if err := tr.Err(); err != nil {
		return err
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := pipeline.NewScheduler(pipeline.WithClock(clock))
	defer s.Close()
	bufs := make([][]byte, n)
	var ls []*pipeline.Listener
	for i := range n {
		p := tr.NewPlayer()
		p.Loop(-1)
		buf := make([]byte, 0, 1500)
		bufs[i] = buf
		ls = append(ls, s.Add(p, func(pk pipeline.Packet) error {
			bufs[i] = append(bufs[i][:0], pk.Data...) // what a sender does: copy it out
			return nil
		}))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perListener := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)

	start := time.Now()
	var cpu0 = cputime.Used()
	time.Sleep(d)
	cpu := cputime.Used() - cpu0
	wall := time.Since(start)

	var packets, underruns, resyncs, overruns int64
	var p50, p99, p999, mx time.Duration
	for _, st := range s.Stats() {
		packets += st.Packets
		underruns += st.Underruns
		resyncs += st.Resyncs
		overruns += st.Overruns
		p50, p99, p999, mx = max(p50, st.Lateness.P50), max(p99, st.Lateness.P99), max(p999, st.Lateness.P999), max(mx, st.Lateness.Max)
	}
	var firsts []time.Duration
	for _, l := range ls[:min(len(ls), 100)] {
		firsts = append(firsts, l.Stats().First)
	}
	fmt.Printf("machine: %d CPUs, GOMAXPROCS %d, %s, clock %T\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), clock)
	fmt.Printf("listeners %d, %v: %d packets (%.0f a second; real time is %d)\n", n, wall.Round(time.Millisecond), packets,
		float64(packets)/wall.Seconds(), 50*n)
	fmt.Printf("lateness: p50 %v, p99 %v, p99.9 %v, max %v\n", p50, p99, p999, mx)
	fmt.Printf("underruns %d, resyncs %d, shard overruns %d\n", underruns, resyncs, overruns)
	fmt.Printf("CPU %.1f%% of one core (%v for %v); memory %.0f bytes a listener (player, listener, callback's buffer)\n",
		100*cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond), wall.Round(time.Millisecond), perListener)
	fmt.Printf("time to first packet, first 100 listeners: %v to %v\n", minOf(firsts), maxOf(firsts))
	if p999 >= 2*time.Millisecond {
		fmt.Println("target p99.9 < 2 ms: missed")
	} else {
		fmt.Println("target p99.9 < 2 ms: met")
	}
	return nil
}

// baseline measures the clock alone: how late its waits for deadlines on
// the same 2 ms grid wake, with nothing else to do. It is the floor under
// the listeners' lateness on this machine.
func baseline(clock pipeline.Clock, d time.Duration) {
	ctx := context.Background()
	start := clock.Now()
	var lat []time.Duration
	for k := 1; time.Duration(k)*2*time.Millisecond <= d; k++ {
		t := start.Add(time.Duration(k) * 2 * time.Millisecond)
		clock.Wait(ctx, t)
		lat = append(lat, clock.Now().Sub(t))
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	fmt.Printf("the clock alone, %d waits over %v: p50 %v, p99 %v, p99.9 %v, max %v\n", len(lat), d, q(0.5), q(0.99), q(0.999), lat[len(lat)-1])
}

func minOf(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxOf(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
