// Command discordlike runs a Discord-like voice service on loopback, the
// library's main job end to end. The bots are in bot.go, the program a
// music bot's author writes, to be read first: each guild's bot plays a
// queue (pipeline.Queue) of tracks from one shared Library (each track
// encoded once, however many guilds play it) on one Scheduler, commanded
// from any goroutine by the commands its users give (play, enqueue, skip,
// seek, pause and resume, loop, loop a section, stop), and tells what it
// plays. The rest (this file and the harness_* files; see README.md) is
// the example's test harness. The bots send encrypted RTP to a voice
// server that speaks Discord's voice gateway
// (version 8, package voice), which requires DAVE as Discord does: the
// server relays end-to-end encrypted frames it cannot read, and a
// listener in each channel, a member of its DAVE group, decrypts and
// decodes every packet and checks it (-dave=false: transport encryption
// alone, checked by the server): numbering, timing, and that the audio
// is the track's at the place the packet claims. When node is here
// (-discordjs=auto), a discord.js client (client.js of
// pipeline/voice/voicetest/interop) joins the channel of each even
// guild too, a member of its DAVE group, and each frame of the bot it
// decrypts must be byte-equal to the listener's; without node, a line
// says those guilds were skipped. Browsers join a guild's channel on a served
// page, over WebRTC, and every channel is also an HTTP Ogg Opus stream.
//
//	go run ./examples/discordlike                 # 50 guilds for 20 s, then a summary
//	go run ./examples/discordlike -serve          # and keep serving the page until Ctrl-C
//	go run ./examples/discordlike -split          # the bots in a second process
//
// The exit status is 1 when a check fails: a packet lost, duplicated,
// undecodable or carrying the wrong audio. Lateness is reported, not
// failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/cputime"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

type options struct {
	guilds     int
	duration   time.Duration
	tracks     []string
	listeners  int
	addr       string
	udpAddr    string
	webrtcAddr string
	role       string
	gateway    string
	split      bool
	record     string
	serve      bool
	dave       bool
	discordjs  string
	faults     bool
	out        io.Writer
}

func main() {
	o := &options{out: os.Stdout}
	var tracks string
	flag.IntVar(&o.guilds, "guilds", 50, "guild bots, each in its own voice channel")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long the bots play")
	flag.StringVar(&tracks, "tracks", "", "comma-separated MP3, WAV or Ogg Opus files to play (default: the testdata fixtures)")
	flag.IntVar(&o.listeners, "listeners", 1, "WebRTC listeners in this process (pion peers), joining guild-1")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "address of the voice gateway, the page and the HTTP streams")
	flag.StringVar(&o.udpAddr, "udp", "127.0.0.1:0", "address of the voice server's UDP endpoint")
	flag.StringVar(&o.webrtcAddr, "webrtc", "127.0.0.1:0", "UDP address for every WebRTC peer")
	flag.StringVar(&o.role, "role", "all", "all: everything in one process; server: the voice server only; bots: the bots only (with -gateway)")
	flag.StringVar(&o.gateway, "gateway", "", "the voice gateway URL, for -role bots")
	flag.BoolVar(&o.split, "split", false, "run the bots in a second process (the server stays in this one)")
	flag.StringVar(&o.record, "record", "", "write what each guild was heard to say to `DIR`/<guild>.opus")
	flag.BoolVar(&o.serve, "serve", false, "keep running (bots and page) until interrupted, for browsers")
	flag.BoolVar(&o.dave, "dave", true, "make the server require DAVE, as Discord does (the bots have it on); a listener in each channel decrypts what the server checks")
	flag.StringVar(&o.discordjs, "discordjs", "auto", "auto: a discord.js client (node, pipeline/voice/voicetest/interop) in the even guilds' channels, with -dave, when node is on PATH; true: require it; false: none")
	flag.BoolVar(&o.faults, "faults", true, "inject faults: a lost UDP socket, a lost control connection, a corrupt and a missing track, a wrong token")
	flag.Parse()
	if tracks != "" {
		o.tracks = strings.Split(tracks, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "discordlike:", err)
		os.Exit(1)
	}
}

// errChecks is returned when a correctness check failed.
var errChecks = errors.New("checks failed")

// run runs what the options say and prints the summary; the error says
// what failed.
func run(ctx context.Context, o *options) error {
	if len(o.tracks) == 0 {
		for _, t := range defaultTracks {
			o.tracks = append(o.tracks, testdataPath(t))
		}
	}
	if o.guilds < 1 {
		return fmt.Errorf("-guilds %d: want at least one", o.guilds)
	}
	if o.record != "" {
		if err := os.MkdirAll(o.record, 0o755); err != nil {
			return err
		}
	}
	con := newConsole(o.out)
	cat := newCatalogue(o.tracks, o.faults)
	store, err := os.MkdirTemp("", "discordlike-store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	ds, err := pipeline.NewDirStore(store, 1<<30)
	if err != nil {
		return err
	}
	lib := pipeline.NewLibrary(pipeline.WithOpener(cat.opener), pipeline.WithStore(ds), pipeline.WithBudget(512<<20))
	defer lib.Close()
	sched := pipeline.NewScheduler()
	defer sched.Close()

	if o.role == "bots" {
		return runBots(ctx, o, con, cat, lib, sched)
	}
	if o.role != "all" && o.role != "server" {
		return fmt.Errorf("-role %q: want all, server or bots", o.role)
	}
	cpu0, wall0 := cputime.Used(), time.Now()
	svc, err := startService(o, con, cat, lib, sched)
	if err != nil {
		return err
	}
	con.linef("voice gateway %s (UDP %s), web page %s", svc.gateway, svc.voice.UDPAddr(), svc.base)
	con.linef("%d guilds, %d tracks: %s", o.guilds, cat.played, strings.Join(names(cat), ", "))
	if o.role != "server" && o.guilds >= 3 {
		con.linef("every third guild (guild-3, guild-6...) cross-fades its tracks over %v; the others join them gapless", crossfadeLen)
	}
	if o.faults && o.role != "server" {
		con.line("faults injected (-faults=false for none): guild-3 loses its UDP socket, guild-4 its control connection, guild-5 queues a corrupt file, guild-6 a missing one, guild-7 a wrong token")
	}
	if o.dave {
		con.line("the server requires DAVE (-dave=false for transport encryption alone): it relays frames it cannot read, which a listener in each channel decrypts for the checks")
	}
	if svc.djs.skipped != "" {
		con.linef("discord.js guilds skipped: %s; every guild has Go clients alone", svc.djs.skipped)
	} else {
		con.linef("discord.js: a client (node, @discordjs/voice with davey) in the channel of each even guild, %d, a member of its DAVE group", len(svc.djs.clients))
	}

	playCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.serve && o.role != "server" {
		playCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	} else {
		con.linef("serving until interrupted: open %s", svc.base)
	}
	stopProgress := startProgress(con, svc, o)

	var (
		bots    *fleet
		web     []*webListener
		wg      sync.WaitGroup
		childOK = true
	)
	webCtx, webStop := context.WithCancel(playCtx)
	defer webStop()
	switch {
	case o.role == "server":
		<-playCtx.Done()
	case o.split:
		childOK = runChild(playCtx, o, con, svc.gateway)
	default:
		bots = newFleet(o, con, cat, lib, sched)
		wg.Add(1)
		go func() {
			defer wg.Done()
			web = startWebListeners(webCtx, o, svc, &wg)
		}()
		bots.run(playCtx, svc.gateway)
	}
	webStop()
	wg.Wait()
	if bots != nil {
		svc.ver.awaitHeard(bots.summary().Sent, 30*time.Second) // the last packets in flight
	} else {
		time.Sleep(100 * time.Millisecond) // the other process's last packets in flight
	}
	stopProgress()
	svc.close()
	cpu, wall := cputime.Used()-cpu0, time.Since(wall0)

	res := svc.ver.results()
	var total streamResult
	for _, r := range res {
		total.add(r)
	}
	var bs *botSummary
	if bots != nil {
		s := bots.summary()
		bs = &s
	}
	summarize(con, o, cat, lib, svc, bs, res, total, web, cpu, wall)

	switch {
	case total.failed():
		return fmt.Errorf("%w: %s", errChecks, failures(total))
	case svc.djs.failed():
		return fmt.Errorf("%w: a discord.js client did not decrypt the bot's frames as the listener did", errChecks)
	case svc.ver.overflow.Load() > 0:
		return fmt.Errorf("%w: the checker fell behind by %d packets", errChecks, svc.ver.overflow.Load())
	case !childOK:
		return errors.New("the bots' process failed")
	case total.Verified == 0:
		return fmt.Errorf("%w: no audio was verified", errChecks)
	case bs != nil && total.Packets != bs.Sent:
		return fmt.Errorf("%w: the bots sent %d packets, the server heard %d", errChecks, bs.Sent, total.Packets)
	}
	return nil
}

func names(cat *catalogue) []string {
	var out []string
	for i := range cat.played {
		out = append(out, cat.name(i))
	}
	return out
}

func failures(r streamResult) string {
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Lost, "lost")
	add(r.Duplicate, "duplicated")
	add(r.BadTime, "with a wrong timestamp")
	add(r.Wrong, "with the wrong audio")
	add(r.Undecoded, "undecodable")
	add(r.Unlabelled, "unlabelled")
	add(r.NoRef, "of a track the server could not decode")
	return strings.Join(parts, ", ")
}

// startWebListeners joins guild-1 with the in-process listeners once it
// is on the air: pion peers and one HTTP stream client.
func startWebListeners(ctx context.Context, o *options, svc *service, wg *sync.WaitGroup) []*webListener {
	deadline := time.Now().Add(10 * time.Second)
	for svc.web.heard("guild-1") == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []*webListener
	for i := range o.listeners + 1 {
		l := &webListener{kind: "WebRTC"}
		listen := l.listenWebRTC
		if i == o.listeners {
			l.kind, listen = "HTTP", l.listenHTTP
		}
		out = append(out, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			listen(ctx, svc.base, "guild-1")
		}()
	}
	return out
}

// runBots is the bots' half, on its own (-role bots).
func runBots(ctx context.Context, o *options, con *console, cat *catalogue, lib *pipeline.Library, sched *pipeline.Scheduler) error {
	if o.gateway == "" {
		return errors.New("-role bots needs -gateway")
	}
	f := newFleet(o, con, cat, lib, sched)
	playCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	if o.serve {
		playCtx = ctx
	}
	f.run(playCtx, o.gateway)
	s := f.summary()
	con.linef("bots: %d of %d guilds connected, %d packets sent, %d resumes, %d UDP sockets reopened",
		s.Connected, s.Guilds, s.Sent, s.Resumes, s.Reopens)
	con.linef("bots: tracks encoded: %s", encodes(cat))
	return nil
}

// runChild runs the bots in a second process of this program, its output
// passed on, and reports whether it succeeded.
func runChild(ctx context.Context, o *options, con *console, gateway string) bool {
	exe, err := os.Executable()
	if err != nil {
		con.linef("split: %v", err)
		return false
	}
	args := []string{"-role", "bots", "-gateway", gateway, "-guilds", fmt.Sprint(o.guilds),
		"-duration", o.duration.String(), "-tracks", strings.Join(o.tracks, ","), fmt.Sprintf("-faults=%v", o.faults)}
	if o.serve {
		args = append(args, "-serve")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout = prefixWriter{con, "  [bots] "}
	cmd.Stderr = prefixWriter{con, "  [bots] "}
	con.linef("split: bots in process %s %s", filepath.Base(exe), strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		con.linef("split: %v", err)
		return false
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		if o.serve {
			_ = cmd.Process.Signal(os.Interrupt)
		}
		err = <-done
	}
	if err != nil {
		con.linef("split: the bots' process: %v", err)
		return false
	}
	return true
}

// prefixWriter passes a child's output on, line by line, prefixed.
type prefixWriter struct {
	con    *console
	prefix string
}

func (w prefixWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.con.line(w.prefix + l)
	}
	return len(p), nil
}

// encodes says how many times each track was encoded, and how many
// segments were encoded for seeks ahead of its encode.
func encodes(cat *catalogue) string {
	var parts []string
	for i := range cat.played {
		part := fmt.Sprintf("%s ×%d", cat.name(i), cat.opens[i].Load())
		if n := cat.segments[i].Load(); n > 0 {
			part += fmt.Sprintf(" (and %d segments, for seeks ahead)", n)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// startProgress prints the progress line every second (every five when
// not on a terminal) until the returned function is called.
func startProgress(con *console, svc *service, o *options) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := time.Second
		if !con.tty {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		var lastPkts int64
		lastCPU, lastAt := cputime.Used(), time.Now()
		for {
			select {
			case <-stop:
				con.endProgress()
				return
			case <-t.C:
			}
			st := svc.voice.Stats()
			tot := svc.ver.totals()
			now, cpu := time.Now(), cputime.Used()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rate := float64(st.Packets-lastPkts) / now.Sub(lastAt).Seconds()
			load := float64(cpu-lastCPU) / float64(now.Sub(lastAt)) * 100
			lastPkts, lastCPU, lastAt = st.Packets, cpu, now
			status := "ok"
			if tot.failed() {
				status = "FAILING: " + failures(tot)
			}
			con.progress(fmt.Sprintf("guilds %d/%d · %.0f packets/s · verified %d · late %d · CPU %.0f%% · heap %.0f MB · %s",
				st.Sessions-len(svc.listeners)-len(svc.djs.clients), o.guilds, rate, tot.Verified, tot.Late, load, float64(ms.HeapInuse)/1e6, status))
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// summarize prints the final table.
func summarize(con *console, o *options, cat *catalogue, lib *pipeline.Library, svc *service, bs *botSummary,
	res map[string]streamResult, total streamResult, web []*webListener, cpu, wall time.Duration) {
	p := con.linef
	p("")
	p("summary")
	ls := lib.Stats()
	p("  tracks              %d; times each was encoded: %s", cat.played, encodes(cat))
	p("  library             %d hits, %d loads, %d encodes, %d from disk, %.1f MB in memory, %.1f MB on disk",
		ls.Hits, ls.Loads, ls.Encodes, ls.DiskHits, float64(ls.Resident)/1e6, float64(ls.Stored)/1e6)
	if bs != nil {
		p("  guilds              %d connected of %d (%s)", bs.Connected, bs.Guilds, counts(bs.Modes))
		for msg, n := range bs.Failed {
			p("    handshake failed  %d: %s", n, msg)
		}
		p("  plays               %s", counts(bs.Plays))
		p("  commands            %s", counts(bs.Commands))
		p("  queue events        %s", counts(bs.Events))
		p("  reconnects          %d control connections resumed, %d UDP sockets reopened", bs.Resumes, bs.Reopens)
		if len(bs.First) > 0 {
			p("  first packet        %v median, %v worst (from the bot's start: handshake and first packet)",
				bs.First[len(bs.First)/2].Round(time.Millisecond), bs.First[len(bs.First)-1].Round(time.Millisecond))
		}
		p("  sent                %d packets (scheduler: %d late, %d underruns)", bs.Sent, bs.Late, bs.Underruns)
	}
	vs := svc.voice.Stats()
	p("  heard               %d packets from %d guilds; %d rejected datagrams", total.Packets, len(res), vs.Rejected)
	p("  verified            %d packets' audio matched the track at their position (worst %.1f dB SNR);", total.Verified, total.WorstSNR)
	p("                      %d within 100 ms after a jump not compared, %d transition packets past it not compared, %d silence frames",
		total.PreRoll, total.Transition, total.Silence)
	p("  seams               %d jumps heard, worst %+.1f dB over the louder side, %d over %+.0f dB (peak in the 60 ms after a jump)",
		total.Seams, total.WorstSeam, total.SeamsOver, seamBound)
	for _, l := range total.seamLines(20) {
		p("%s", l)
	}
	p("  lost                %d   duplicated %d   reordered %d   bad timestamps %d", total.Lost, total.Duplicate, total.Reordered, total.BadTime)
	p("  wrong audio         %d   undecodable %d   unlabelled %d", total.Wrong, total.Undecoded, total.Unlabelled)
	p("  timing              jitter %.2f ms mean, %.2f ms worst; %d packets late by more than %v",
		total.Jitter*1000, total.MaxJitter*1000, total.Late, lateBy)
	ws := svc.web.stats()
	for _, l := range web {
		s := l.snapshot()
		line := fmt.Sprintf("  %-6s listener     %d packets, %.1f s decoded, %d undecodable, peak %.1f dBFS, first after %v, %d in the %v after it",
			s.kind, s.packets, float64(s.samples)/48000, s.undecoded, s.peak, s.first.Round(time.Millisecond), s.early, joinWindow)
		if s.err != nil {
			line += "; " + s.err.Error()
		}
		p("%s", line)
	}
	if ws.Channels > 0 {
		p("  web                 %d channels live, %d WebRTC peers, %d fanout drops, %d HTTP clients (%d slow)",
			ws.Channels, ws.Peers, ws.Dropped, ws.Clients, ws.Slow)
	}
	for _, r := range ws.Reports {
		if r.Kind == "http" {
			p("  browser             %s: HTTP stream, %.1f s played in <audio> (%s)", r.Guild, r.Played, agentName(r.Agent))
		} else {
			p("  browser             %s: WebRTC, %d packets, %.1f s received, %.1f%% concealed, level %.1f dBFS, strongest %.0f Hz (%s)",
				r.Guild, r.Packets, float64(r.Samples)/48000, r.concealedShare()*100, r.Level, r.Peak, agentName(r.Agent))
		}
	}
	summarizeDJS(con, o, svc.djs)
	listeners := max(len(res), 1) + len(web)
	p("  listeners           %d: %d voice channels heard by the server, %d WebRTC and HTTP listeners in this process, %d browser reports",
		len(res)+len(web), len(res), len(web), len(ws.Reports))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p("  CPU                 %.1f s in %.1f s (%.0f%% of one core, bots, server and checkers); %.2f ms a second per listener",
		cpu.Seconds(), wall.Seconds(), cpu.Seconds()/wall.Seconds()*100, cpu.Seconds()/wall.Seconds()*1000/float64(listeners))
	p("  memory              %.1f MB heap in use (bots, server, checkers, pion), %.0f KB per listener; the tracks %.1f MB of it",
		float64(ms.HeapInuse)/1e6, float64(ms.HeapInuse)/1e3/float64(listeners), float64(ls.Resident)/1e6)
	for _, r := range svc.recorded() {
		if r.err != nil {
			p("  record              %v", r.err)
		} else {
			p("  recorded            %s", r.path)
		}
	}
	if total.failed() {
		p("result: FAILED: %s", failures(total))
	} else {
		p("result: every packet heard was in order and carried the right audio")
	}
}

// counts formats a map of counts, largest first.
func counts(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
