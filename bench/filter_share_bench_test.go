package bench_test

// 1,000 players over 10 filter chains: each chain a Library entry encoded
// once and shared by its players, against a filter per player (each
// player's packets decoded, filtered and encoded again, as lavaplayer
// does).
//
//	go test -run '^$' -bench FilterSharing -benchtime 1x -count 3 ./bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/internal/cputime"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// sharePlayers is how many players the benchmark plays, spread evenly
// over shareChains.
const sharePlayers = 1000

// shareChains are the benchmark's 10 filter chains, in Key.Filters form:
// volume levels, an equalizer, nightcore, and others of Lavalink's set.
func shareChains() []string {
	eq := transform.EqualizerConfig{Gains: [15]float64{0.2, 0.15, 0.1, 0.05, 0, -0.05, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, 0.3}}
	chains := []transform.Chain{
		{Volume: &transform.VolumeConfig{Volume: 0.5}},
		{Volume: &transform.VolumeConfig{Volume: 0.8}},
		{Volume: &transform.VolumeConfig{Volume: 1.5}},
		{Volume: &transform.VolumeConfig{Volume: 3}},
		{Equalizer: &eq},
		{Timescale: &transform.TimescaleConfig{Speed: 1.25, Pitch: 1.25, Rate: 1}},
		{Karaoke: &transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100}},
		{Tremolo: &transform.TremoloConfig{Frequency: 2, Depth: 0.5}},
		{Rotation: &transform.RotationConfig{RotationHz: 0.2}},
		{LowPass: &transform.LowPassConfig{Smoothing: 20}, Volume: &transform.VolumeConfig{Volume: 0.8}},
	}
	s := make([]string, len(chains))
	for i, c := range chains {
		s[i] = c.String()
	}
	return s
}

// heapPeak samples the heap in use every 10 ms until stop, and returns
// the most it saw above the heap at its start, and the bytes allocated
// meanwhile.
type heapPeak struct {
	done  chan struct{}
	wg    sync.WaitGroup
	base  runtime.MemStats
	peak  uint64
	total uint64
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{done: make(chan struct{})}
	runtime.ReadMemStats(&h.base)
	h.peak = h.base.HeapAlloc
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				h.peak = max(h.peak, m.HeapAlloc)
			}
		}
	}()
	return h
}

// stop ends the sampling and returns the peak heap above the start and
// the bytes allocated since.
func (h *heapPeak) stop() (peak, alloc uint64) {
	close(h.done)
	h.wg.Wait()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
	return h.peak - h.base.HeapAlloc, m.TotalAlloc - h.base.TotalAlloc
}

// driveRounds plays n streams, each step(i) giving stream i's next
// packet, round by round (one packet of each stream a round, as a 20 ms
// deadline would), on GOMAXPROCS goroutines each with its share of the
// streams, until every stream has ended. step returns whether it gave a
// packet, and done once its stream has ended. A round in which no stream
// of a goroutine's share gave a packet (all waiting for their encode)
// sleeps 1 ms rather than spin.
func driveRounds(b *testing.B, n int, step func(i int) (ok, done bool, err error)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for i := w; i < n; i += workers {
				mine = append(mine, i)
			}
			for len(mine) > 0 {
				progress := false
				live := mine[:0]
				for _, i := range mine {
					ok, done, err := step(i)
					if err != nil {
						errs[w] = err
						return
					}
					progress = progress || ok || done
					if !done {
						live = append(live, i)
					}
				}
				mine = live
				if !progress {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
}

// playerPCM reads a player's packets decoded to S16LE PCM, as a design
// that filters per player must: libopus's packet decoder, its state
// running from packet to packet. Silence frames (the player's end) are not
// played; an underrun waits 1 ms for the encode.
type playerPCM struct {
	p    *pipeline.Player
	dec  *libopus.PacketDecoder
	pend []byte
	r    int
}

func (s *playerPCM) Read(dst []byte) (int, error) {
	for s.r == len(s.pend) {
		pk, err := s.p.Next()
		switch {
		case errors.Is(err, pipeline.ErrUnderrun):
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return 0, err
		case pk.Silence:
			continue
		}
		pcm, err := s.dec.Decode(pk.Data)
		if err != nil {
			return 0, err
		}
		s.pend = s.pend[:0]
		for _, v := range pcm {
			s.pend = append(s.pend, byte(v), byte(uint16(v)>>8))
		}
		s.r = 0
	}
	n := copy(dst, s.pend[s.r:])
	s.r += n
	return n, nil
}

// perPlayerFilter is one player of the per-player design: the shared
// unfiltered track's packets decoded, filtered by the player's chain and
// encoded again by the player's own Opus encoder.
type perPlayerFilter struct {
	p   *pipeline.Player
	enc *libopus.Encoder
	pcm io.Reader
}

func newPerPlayerFilter(p *pipeline.Player, chain string) (*perPlayerFilter, error) {
	c, err := transform.ParseChain(chain)
	if err != nil {
		return nil, err
	}
	dec, err := libopus.NewPacketDecoder(2)
	if err != nil {
		return nil, err
	}
	f16 := libopus.Format(2)
	toF, err := transform.NewConvert(f16, transform.F32LE)
	if err != nil {
		return nil, err
	}
	cf, err := transform.NewChainFilter(toF.Out(), c)
	if err != nil {
		return nil, err
	}
	to16, err := transform.NewConvert(toF.Out(), transform.S16LE, transform.WithDither(1))
	if err != nil {
		return nil, err
	}
	enc, err := libopus.NewEncoder(f16, libopus.WithBitrate(128000), libopus.WithFrameDuration(20*time.Millisecond))
	if err != nil {
		return nil, err
	}
	src := &playerPCM{p: p, dec: dec}
	return &perPlayerFilter{p: p, enc: enc, pcm: catcher.NewTransformReader(src, catcher.Chain(toF, cf, to16))}, nil
}

// BenchmarkFilterSharing plays 1,000 players over 10 filter chains (100
// a chain) of the 3 s MP3 fixture, each to its end, driven with Next round
// by round as fast as the encodes allow (no real time), from a new
// Library an operation:
//
//   - shared: each chain a Key's Filters, so a filtered variant the
//     Library encodes once for its 100 players;
//   - per-player: the track unfiltered in the Library (one encode), and
//     each player's packets decoded (libopus), filtered
//     (transform.NewChainFilter) and encoded again (libopus), the design a
//     filter per player leads to.
//
// Per operation: cpu-s, the process's CPU time (every goroutine, the
// encodes' included); encodes, the Opus encodes of the whole track
// (LibraryStats.Encodes, plus one a player per-player); peak-heap-B, the
// most Go heap in use above the start (sampled every 10 ms; gopus keeps
// libopus's state in the Go heap, so it is counted, about 80 KB an encoder
// and a decoder); alloc-B, the bytes allocated; packets, the packets the
// players gave out.
func BenchmarkFilterSharing(b *testing.B) {
	mp3 := codecFile(b, "", "prog_48000.mp3")
	chains := shareChains()
	seen := map[string]bool{}
	for _, c := range chains {
		seen[c] = true
	}
	if len(seen) != len(chains) {
		b.Fatalf("chains not distinct: %q", chains)
	}
	open := func(context.Context, string) (io.Reader, error) { return bytes.NewReader(mp3), nil }
	ctx := context.Background()
	report := func(b *testing.B, cpu time.Duration, encodes, packets int64, peak, alloc uint64) {
		n := float64(b.N)
		b.ReportMetric(cpu.Seconds()/n, "cpu-s/op")
		b.ReportMetric(float64(encodes)/n, "encodes/op")
		b.ReportMetric(float64(packets)/n, "packets/op")
		b.ReportMetric(float64(peak), "peak-heap-B")
		b.ReportMetric(float64(alloc)/n, "alloc-B/op")
	}

	b.Run("impl=shared", func(b *testing.B) {
		var cpu time.Duration
		var encodes, packets int64
		var peak, alloc uint64
		for range b.N {
			hp := startHeapPeak()
			c0 := cputime.Used()
			lib := pipeline.NewLibrary(pipeline.WithOpener(open))
			players := make([]*pipeline.Player, sharePlayers)
			for i := range players {
				p, err := lib.Play(ctx, pipeline.Key{Source: "prog", Filters: chains[i%len(chains)]})
				if err != nil {
					b.Fatal(err)
				}
				players[i] = p
			}
			counts := make([]int64, sharePlayers)
			driveRounds(b, sharePlayers, func(i int) (bool, bool, error) {
				pk, err := players[i].Next()
				switch {
				case err == nil:
					if !pk.Silence {
						counts[i]++
					}
					return true, false, nil
				case errors.Is(err, pipeline.ErrUnderrun):
					return false, false, nil
				case err == io.EOF:
					return false, true, nil
				default:
					return false, true, err
				}
			})
			for i, p := range players {
				packets += counts[i]
				p.Close()
			}
			st := lib.Stats()
			if st.Encodes != int64(len(chains)) {
				b.Fatalf("%d encodes, want %d", st.Encodes, len(chains))
			}
			encodes += st.Encodes
			lib.Close()
			cpu += cputime.Used() - c0
			pk, al := hp.stop()
			peak, alloc = max(peak, pk), alloc+al
		}
		report(b, cpu, encodes, packets, peak, alloc)
	})

	b.Run("impl=per-player", func(b *testing.B) {
		var cpu time.Duration
		var encodes, packets int64
		var peak, alloc uint64
		for range b.N {
			hp := startHeapPeak()
			c0 := cputime.Used()
			lib := pipeline.NewLibrary(pipeline.WithOpener(open))
			players := make([]*perPlayerFilter, sharePlayers)
			for i := range players {
				p, err := lib.Play(ctx, pipeline.Key{Source: "prog"})
				if err != nil {
					b.Fatal(err)
				}
				if players[i], err = newPerPlayerFilter(p, chains[i%len(chains)]); err != nil {
					b.Fatal(err)
				}
			}
			counts := make([]int64, sharePlayers)
			driveRounds(b, sharePlayers, func(i int) (bool, bool, error) {
				pp := players[i]
				_, err := pp.enc.NextPacket(pp.pcm)
				switch {
				case err == nil:
					counts[i]++
					return true, false, nil
				case err == io.EOF:
					return false, true, nil
				default:
					return false, true, fmt.Errorf("player %d: %w", i, err)
				}
			})
			for i, pp := range players {
				packets += counts[i]
				pp.p.Close()
			}
			st := lib.Stats()
			if st.Encodes != 1 {
				b.Fatalf("%d encodes of the source, want 1", st.Encodes)
			}
			encodes += st.Encodes + sharePlayers
			lib.Close()
			cpu += cputime.Used() - c0
			pk, al := hp.stop()
			peak, alloc = max(peak, pk), alloc+al
		}
		report(b, cpu, encodes, packets, peak, alloc)
	})
}
