package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// queueLibrary is a Library of the 3 s MP3 fixture under one key, loaded,
// its tracks made with opts.
func queueLibrary(b *testing.B, opts ...pipeline.TrackOption) (*pipeline.Library, pipeline.Key) {
	b.Helper()
	data := codecFile(b, "", "prog_48000.mp3")
	lib := pipeline.NewLibrary(pipeline.WithOpener(func(context.Context, string) (io.Reader, error) {
		return bytes.NewReader(data), nil
	}), pipeline.WithTrackOptions(opts...))
	b.Cleanup(func() { lib.Close() })
	key := pipeline.Key{Source: "prog"}
	h, err := lib.Get(context.Background(), key)
	if err != nil {
		b.Fatal(err)
	}
	<-h.Track().Done()
	b.Cleanup(h.Release)
	return lib, key
}

// loopedQueue is a Queue of lib looping the track of key, on s, its
// packets given to send; the caller closes it.
func loopedQueue(lib *pipeline.Library, key pipeline.Key, s *pipeline.Scheduler, send func(pipeline.Packet) error) (*pipeline.Queue, pipeline.EntryID) {
	q := pipeline.NewQueue(lib, pipeline.WithPositionEvery(0))
	id := q.Enqueue(key)
	q.Loop(pipeline.LoopTrack)
	s.AddQueue(q, send)
	return q, id
}

// wake is how far past each deadline the queue benchmarks' fake clocks
// are when the shard serves it, as a real timer wakes a shard late: each
// packet's lateness then falls in a bucket of its own, not the first
// (which shares a line with the Listener's other fields), as in use.
const wake = 50 * time.Microsecond

// BenchmarkQueueListener is what a Queue costs beside a plain Player:
// two Schedulers of one shard each (on fake clocks), one serving N
// listeners of Players of one loaded 3 s track, looped, the other N
// Queues playing it with LoopTrack; one operation is a deadline of each,
// interleaved, so that both meet the machine in the same state. It
// reports the time per listener per packet of each (player-ns,
// queue-ns) and the queue's against the player's, deadline by deadline
// over blocks of 20 (ratio-min, ratio-med, ratio-max), and the same of
// the process's CPU time in them (cpu-ratio-*: the shard's, which the
// load of other processes does not lengthen as it does the wall time).
// commands=true: each queue is given a command (a seek) once a second
// (1 in 50 of them a deadline), from the benchmark's goroutine between
// deadlines, its time counted as the queues', on a track without
// transitions at jumps (WithSeams(false)): the queue's own cost of a
// command. (A click-free seek costs a transition's encode, a
// few milliseconds of one core: BenchmarkSeam.)
func BenchmarkQueueListener(b *testing.B) {
	const n = 10_000
	const block = 20
	const warm = 2 // untimed deadlines before a block (blocks)
	for _, order := range []string{"deadlines", "blocks"} {
		blocks := order == "blocks"
		for _, commands := range []bool{false, true} {
			var opts []pipeline.TrackOption
			if commands {
				opts = append(opts, pipeline.WithSeams(false))
			}
			lib, key := queueLibrary(b, opts...)
			h, err := lib.Get(context.Background(), key)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Release()
			b.Run(fmt.Sprintf("listeners=%d/alternate=%s/commands=%v", n, order, commands), func(b *testing.B) {
				ctx := context.Background()
				buf := make([]byte, 4096)
				send := func(p pipeline.Packet) error { copy(buf, p.Data); return nil }
				newSched := func() (*pipeline.Scheduler, *pipeline.FakeClock) {
					clock := pipeline.NewFakeClock(time.Unix(0, 0))
					s := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
					clock.BlockUntilWaiting(ctx, 1)
					clock.Advance(wake)
					return s, clock
				}
				ps, pclock := newSched()
				defer ps.Close()
				qs, qclock := newSched()
				defer qs.Close()
				var queues []*pipeline.Queue
				var ids []pipeline.EntryID
				for range n {
					p := h.NewPlayer()
					p.Loop(-1)
					defer p.Close()
					ps.Add(p, send)
					q, id := loopedQueue(lib, key, qs, send)
					defer q.Close()
					ids, queues = append(ids, id), append(queues, q)
				}
				// deadline serves one deadline, and returns its wall time and
				// the process's CPU time in it (the shard's: the benchmark's
				// goroutine waits on a channel), which another process's
				// load does not lengthen.
				deadline := func(c *pipeline.FakeClock) (wall, cpu time.Duration) {
					start, cpu0 := time.Now(), cpuTime()
					c.Advance(20 * time.Millisecond)
					c.BlockUntilWaiting(ctx, 1)
					return time.Since(start), cpuTime() - cpu0
				}
				for range 2 { // the first deadlines take them in and start the queues
					deadline(pclock)
					deadline(qclock)
				}
				k := 0
				var pt, qt, bp, bq, cp, cq time.Duration
				var seeks, seekWall time.Duration // the commands' calls: how many, and their time
				var ratios, cpuRatios []float64
				queueDeadline := func(i int) (wall, cpu time.Duration) {
					var cmdWall, cmdCPU time.Duration // the commands' own time, the queues'
					if commands {
						start, cpu0 := time.Now(), cpuTime()
						for j := i % 50; j < n; j += 50 {
							queues[j].Seek(ids[j], time.Duration(k%2500)*time.Millisecond)
							k++
						}
						cmdWall, cmdCPU = time.Since(start), cpuTime()-cpu0
						seeks, seekWall = seeks+time.Duration((n-i%50+49)/50), seekWall+cmdWall
					}
					d, c := deadline(qclock)
					return d + cmdWall, c + cmdCPU
				}
				b.ReportAllocs()
				runtime.GC() // the setup's garbage collected before the timing, not during it
				b.ResetTimer()
				for i := range b.N {
					if blocks {
						// A block of each kind in turn, its first
						// deadlines untimed: each kind is timed with its
						// own lines in the caches, as it runs alone.
						if i%block == 0 {
							b.StopTimer()
							for range warm {
								deadline(pclock)
							}
							b.StartTimer()
						}
					}
					d, c := deadline(pclock)
					pt, bp, cp = pt+d, bp+d, cp+c
					if !blocks {
						d, c = queueDeadline(i)
						qt, bq, cq = qt+d, bq+d, cq+c
					}
					if (i+1)%block == 0 || blocks && i == b.N-1 {
						if blocks {
							b.StopTimer()
							for j := range warm {
								queueDeadline(i + j)
							}
							b.StartTimer()
							for j := i - i%block; j <= i; j++ {
								d, c := queueDeadline(j)
								qt, bq, cq = qt+d, bq+d, cq+c
							}
						}
						ratios = append(ratios, float64(bq)/float64(bp))
						if cp > 0 {
							cpuRatios = append(cpuRatios, float64(cq)/float64(cp))
						}
						bp, bq, cp, cq = 0, 0, 0, 0
					}
				}
				b.StopTimer()
				per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / n }
				b.ReportMetric(per(pt), "player-ns")
				b.ReportMetric(per(qt), "queue-ns")
				report := func(rs []float64, prefix string) {
					if len(rs) > 0 {
						slices.Sort(rs)
						b.ReportMetric(rs[0], prefix+"ratio-min")
						b.ReportMetric(rs[len(rs)/2], prefix+"ratio-med")
						b.ReportMetric(rs[len(rs)-1], prefix+"ratio-max")
					}
				}
				if seeks > 0 {
					b.ReportMetric(float64(seekWall)/float64(seeks), "seek-call-ns")
				}
				report(ratios, "")
				report(cpuRatios, "cpu-")
				for name, s := range map[string]*pipeline.Scheduler{"players": ps, "queues": qs} {
					if st := s.Stats()[0]; st.Underruns > 0 {
						b.Fatalf("%s: underruns %d", name, st.Underruns)
					}
				}
			})
		}
	}
}

// BenchmarkQueueCommandLatency is the time from a command to the first
// packet that shows it, in real time: N queues on a Scheduler on the real
// clock, each given a seek to a position of its own once a second from
// other goroutines, for a few seconds; the latency is from the Seek call
// to the send of the first packet at the target (positions are exact).
// It reports the median, the 99th percentile and the worst, in ms. The
// track has no transitions at jumps (see BenchmarkQueueListener).
func BenchmarkQueueCommandLatency(b *testing.B) {
	lib, key := queueLibrary(b, pipeline.WithSeams(false))
	const n = 10_000
	const secs = 4
	for range b.N {
		s := pipeline.NewScheduler()
		type pending struct {
			target int64
			at     time.Time
		}
		var mu sync.Mutex
		var lat []time.Duration
		waits := make([]atomic.Pointer[pending], n)
		queues := make([]*pipeline.Queue, n)
		ids := make([]pipeline.EntryID, n)
		for i := range n {
			q := pipeline.NewQueue(lib, pipeline.WithPositionEvery(0))
			ids[i] = q.Enqueue(key)
			q.Loop(pipeline.LoopTrack)
			queues[i] = q
			w := &waits[i]
			s.AddQueue(q, func(p pipeline.Packet) error {
				if pd := w.Load(); pd != nil && !p.Silence && p.Position <= pd.target && pd.target < p.Position+p.Samples {
					if w.CompareAndSwap(pd, nil) {
						d := time.Since(pd.at)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}
				return nil
			})
		}
		time.Sleep(200 * time.Millisecond) // all playing
		var wg sync.WaitGroup
		for g := range 4 { // the commanding goroutines: each a quarter of the queues
			wg.Go(func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for step := range secs * 50 {
					<-tick.C
					for i := g + 4*(step%50); i < n; i += 200 {
						target := opus.Samples(time.Duration(500+(i*7+step*13)%2000) * time.Millisecond)
						waits[i].Store(&pending{target: target, at: time.Now()})
						queues[i].Seek(ids[i], opus.Duration(target))
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
		s.Close()
		for _, q := range queues {
			q.Close()
		}
		if len(lat) == 0 {
			b.Fatal("no command seen")
		}
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(lat[len(lat)/2]), "median-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
		b.ReportMetric(float64(len(lat)), "commands")
	}
}

// BenchmarkQueueListenerOne is BenchmarkQueueListener's one side at a
// time, in a process of its own (kind=player: N Players; kind=queue: N
// Queues): an operation is one deadline of N listeners. Timed, it is
// the cost alone; its use is to be run under a cache simulator, which
// counts the instructions and cache misses of one kind's deadlines
// without another process's noise (bench/README.md, "The queue player").
func BenchmarkQueueListenerOne(b *testing.B) {
	const n = 10_000
	for _, kind := range []string{"player", "queue"} {
		for _, commands := range []bool{false, true} {
			var opts []pipeline.TrackOption
			if commands {
				opts = append(opts, pipeline.WithSeams(false))
			}
			b.Run(fmt.Sprintf("kind=%s/commands=%v", kind, commands), func(b *testing.B) {
				lib, key := queueLibrary(b, opts...)
				h, err := lib.Get(context.Background(), key)
				if err != nil {
					b.Fatal(err)
				}
				defer h.Release()
				ctx := context.Background()
				buf := make([]byte, 4096)
				send := func(p pipeline.Packet) error { copy(buf, p.Data); return nil }
				clock := pipeline.NewFakeClock(time.Unix(0, 0))
				s := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
				defer s.Close()
				clock.BlockUntilWaiting(ctx, 1)
				clock.Advance(wake)
				var queues []*pipeline.Queue
				var ids []pipeline.EntryID
				for range n {
					if kind == "player" {
						p := h.NewPlayer()
						p.Loop(-1)
						defer p.Close()
						s.Add(p, send)
						continue
					}
					q, id := loopedQueue(lib, key, s, send)
					defer q.Close()
					ids, queues = append(ids, id), append(queues, q)
				}
				deadline := func() {
					clock.Advance(20 * time.Millisecond)
					clock.BlockUntilWaiting(ctx, 1)
				}
				for range 2 {
					deadline()
				}
				k := 0
				const block = 20
				var walls, cpus []float64
				bw, bc := time.Duration(0), time.Duration(0)
				b.ReportAllocs()
				runtime.GC() // the setup's garbage collected before the timing, not during it
				b.ResetTimer()
				for i := range b.N {
					start, cpu0 := time.Now(), cpuTime()
					if commands && kind == "queue" {
						for j := i % 50; j < n; j += 50 {
							queues[j].Seek(ids[j], time.Duration(k%2500)*time.Millisecond)
							k++
						}
					}
					deadline()
					bw, bc = bw+time.Since(start), bc+cpuTime()-cpu0
					if (i+1)%block == 0 {
						walls = append(walls, float64(bw.Nanoseconds())/block/n)
						cpus = append(cpus, float64(bc.Nanoseconds())/block/n)
						bw, bc = 0, 0
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/listener")
				// Over blocks of 20 deadlines: the fastest block and the
				// median, of the wall time and of the process's CPU time,
				// per listener per packet. Another process's load only
				// adds, so the fastest block is the steadiest figure.
				for _, m := range []struct {
					name string
					v    []float64
				}{{"wall", walls}, {"cpu", cpus}} {
					if len(m.v) > 0 {
						slices.Sort(m.v)
						b.ReportMetric(m.v[0], m.name+"-min-ns")
						b.ReportMetric(m.v[len(m.v)/2], m.name+"-med-ns")
					}
				}
				if st := s.Stats()[0]; st.Underruns > 0 {
					b.Fatalf("underruns %d", st.Underruns)
				}
			})
		}
	}
}
