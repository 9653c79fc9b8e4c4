package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// fleet is the guild bots: one Library and one Scheduler for them all.
type fleet struct {
	o     *options
	con   *console
	cat   *catalogue
	lib   *pipeline.Library
	sched *pipeline.Scheduler
	bots  []*bot

	failed sync.Map // catalogue index → struct{}: tracks that failed, reported once
}

// trackFailed reports a track's failure once, whichever guild meets it
// first, and has every guild skip it from then on.
func (f *fleet) trackFailed(b *bot, id int, msg string) {
	b.count("failed track")
	if _, dup := f.failed.LoadOrStore(id, struct{}{}); !dup {
		b.logf("%s", msg)
	}
}

func (f *fleet) hasFailed(id int) bool {
	_, ok := f.failed.Load(id)
	return ok
}

// allFailed reports whether no track of queue can be played.
func (f *fleet) allFailed(queue []entry) bool {
	for _, e := range queue {
		if !e.bad && !f.hasFailed(e.id) {
			return false
		}
	}
	return true
}

// bot plays a queue of tracks into one guild's voice channel.
type bot struct {
	f      *fleet
	n      int
	guild  string
	user   string
	token  string
	queue  []entry
	faults []fault

	conn  *voice.Conn
	track atomic.Int64 // the track playing, for the packets' labels

	mu        sync.Mutex    // guards the fields below
	mode      string        // the encryption mode, once connected
	sendErr   error         // why sending failed, which ends its playing
	err       error         // why its handshake failed
	first     time.Duration // from its start to its first packet
	sent      int64
	plays     map[string]int
	commands  map[string]int
	resumes   int64
	reopens   int64
	underruns int64
	late      int64
}

// entry is one track in a bot's queue, by its catalogue index; bad is
// set for a bad file injected to show the error path, played once.
type entry struct {
	id  int
	bad bool
}

type fault struct {
	at   float64 // fraction of the run
	what string
	do   func(*voice.Conn)
}

func newFleet(o *options, con *console, cat *catalogue, lib *pipeline.Library, sched *pipeline.Scheduler) *fleet {
	f := &fleet{o: o, con: con, cat: cat, lib: lib, sched: sched}
	for g := 1; g <= o.guilds; g++ {
		b := &bot{f: f, n: g, guild: fmt.Sprintf("guild-%d", g), user: botUser(g), plays: map[string]int{}, commands: map[string]int{}}
		b.token = "token-" + b.user
		// Guilds start spread over the first tracks, so that several ask
		// for each at once, and then go through the list.
		for i := range cat.played {
			b.queue = append(b.queue, entry{id: (g + i) % cat.played})
		}
		f.bots = append(f.bots, b)
	}
	if o.faults {
		f.injectFaults()
	}
	return f
}

// injectFaults gives a few guilds trouble, as networks and users do.
func (f *fleet) injectFaults() {
	pick := func(g int) *bot {
		if g <= len(f.bots) {
			return f.bots[g-1]
		}
		return nil
	}
	if b := pick(3); b != nil {
		b.faults = append(b.faults, fault{0.4, "loses its UDP socket", (*voice.Conn).DropUDP})
	}
	if b := pick(4); b != nil {
		b.faults = append(b.faults, fault{0.6, "loses its control connection", (*voice.Conn).DropControl})
	}
	for i, g := range []int{5, 6} { // a corrupt file, a missing one
		if b := pick(g); b != nil && f.cat.played+i < len(f.cat.paths) {
			b.queue = append([]entry{{id: f.cat.played + i, bad: true}}, b.queue...)
		}
	}
	if b := pick(7); b != nil {
		b.token = "a wrong token"
	}
}

// run plays every bot until the context ends, then stops them cleanly.
func (f *fleet) run(ctx context.Context, gateway string) {
	var wg sync.WaitGroup
	for _, b := range f.bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.run(ctx, gateway)
		}()
	}
	wg.Wait()
}

func (b *bot) logf(format string, args ...any) {
	b.f.con.line(b.guild + ": " + fmt.Sprintf(format, args...))
}

func (b *bot) run(ctx context.Context, gateway string) {
	start := time.Now()
	// What the main gateway's VOICE_SERVER_UPDATE and VOICE_STATE_UPDATE
	// would give the bot.
	su := voice.ServerUpdate{Endpoint: gateway, Token: b.token, GuildID: b.guild}
	st := voice.StateUpdate{UserID: b.user, SessionID: "session-" + b.guild}
	opts := []voice.Option{voice.WithSenderOptions(sink.WithExtension(labelProfile, func(dst []byte, p opus.Packet) []byte {
		return appendLabel(dst, int(b.track.Load()), p)
	}))}
	if b.n%2 == 0 { // half the guilds prefer the other mode: both are in use
		opts = append(opts, voice.WithModes(voice.ModeXChaCha20Poly1305, voice.ModeAES256GCM))
	}
	conn, err := voice.Connect(ctx, su, st, opts...)
	if err != nil {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
		b.logf("handshake failed: %v", err)
		return
	}
	b.conn = conn
	b.mu.Lock()
	b.mode = conn.Mode()
	b.mu.Unlock()
	defer func() {
		_ = conn.Speaking(0)
		st := conn.Stats()
		b.mu.Lock()
		b.sent, b.resumes, b.reopens = st.Sent, st.Resumes, st.Reopened
		b.mu.Unlock()
		conn.Close()
	}()
	if err := conn.Speaking(voice.SpeakingMicrophone); err != nil {
		b.logf("speaking: %v", err)
		return
	}
	for _, ft := range b.faults {
		t := time.AfterFunc(time.Duration(ft.at*float64(b.f.o.duration)), func() {
			b.logf("%s (fault injected)", ft.what)
			ft.do(conn)
		})
		defer t.Stop()
	}
	for i := 0; ctx.Err() == nil; i++ {
		if i%len(b.queue) == 0 && i > 0 && b.f.allFailed(b.queue) {
			b.logf("no track in its queue plays; it waits for the end")
			<-ctx.Done()
			return
		}
		e := b.queue[i%len(b.queue)]
		if (e.bad && i >= len(b.queue)) || b.f.hasFailed(e.id) {
			continue // a bad file is tried once, a failed track not again
		}
		b.play(ctx, e, i, start)
		select {
		case <-conn.Done():
			b.logf("voice connection ended: %v", conn.Err())
			return
		default:
		}
		b.mu.Lock()
		failed := b.sendErr != nil
		b.mu.Unlock()
		if failed {
			return
		}
	}
}

// play plays one track with the scripted commands of its turn, until it
// ends, is skipped, or the run is over (then it pauses, for the five
// silence frames, and stops).
func (b *bot) play(ctx context.Context, e entry, turn int, start time.Time) {
	key, name := b.f.cat.key(e.id), b.f.cat.name(e.id)
	p, err := b.f.lib.Play(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			b.f.trackFailed(b, e.id, fmt.Sprintf("track %s: %v; every guild skips it", name, err))
		}
		return
	}
	defer p.Close()
	d, _ := p.Track().Duration()
	script := scriptFor(b.n+turn, d)
	if script.setup != nil {
		script.setup(p)
	}
	b.track.Store(int64(e.id))
	b.mu.Lock()
	b.plays[name]++
	b.commands[script.name]++
	b.mu.Unlock()
	var sendErr error // set on the shard's goroutine, read after l.Done
	added := time.Now()
	l := b.f.sched.Add(p, func(pkt pipeline.Packet) error {
		if err := b.conn.Send(pkt); err != nil {
			sendErr = err
			return err
		}
		return nil
	})
	defer func() {
		st := l.Stats()
		b.mu.Lock()
		if b.first == 0 && st.First > 0 {
			b.first = added.Sub(start) + st.First
		}
		b.underruns += st.Underruns
		b.late += st.Late
		b.mu.Unlock()
	}()

	steps := script.steps
	t := time.NewTimer(0)
	t.Stop()
	defer t.Stop()
	for {
		var next <-chan time.Time
		if len(steps) > 0 {
			t.Reset(time.Until(added.Add(steps[0].at)))
			next = t.C
		}
		select {
		case <-l.Done():
			switch err := l.Err(); {
			case err == nil || ctx.Err() != nil:
			case sendErr != nil: // the connection's fault, not the track's
				b.sendFailed(sendErr)
			default:
				b.f.trackFailed(b, e.id, fmt.Sprintf("track %s: %v; its packets before that were played, and it is skipped from now on", name, err))
			}
			return
		case <-ctx.Done():
			b.stop(l)
			return
		case <-next:
			s := steps[0]
			steps = steps[1:]
			if s.skip {
				b.stop(l)
				return
			}
			l.Do(s.do)
		}
	}
}

// stop pauses the player, so that its five silence frames go out, and
// then removes it.
func (b *bot) stop(l *pipeline.Listener) {
	l.Do(func(p *pipeline.Player) { p.Pause() })
	select {
	case <-l.Done():
		return
	case <-time.After(time.Duration(opus.SilenceFrames+2) * 20 * time.Millisecond):
	}
	l.Remove()
	<-l.Done()
}

// sendFailed ends the bot's playing: its voice connection cannot send.
func (b *bot) sendFailed(err error) {
	b.mu.Lock()
	first := b.sendErr == nil
	b.sendErr = err
	b.mu.Unlock()
	if first {
		b.logf("sending failed: %v; it stops", err)
	}
}

func (b *bot) count(what string) {
	b.mu.Lock()
	b.commands[what]++
	b.mu.Unlock()
}

// script is what a bot does with one track.
type script struct {
	name  string
	setup func(*pipeline.Player) // before it plays
	steps []step
}

type step struct {
	at   time.Duration // from the track's start
	do   func(*pipeline.Player)
	skip bool // pause, then go to the next track
}

var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// scriptFor returns the turn's script for a track of duration d: the
// commands a music bot's users give.
func scriptFor(turn int, d time.Duration) script {
	if d < 1500*time.Millisecond {
		if turn%2 == 0 {
			return script{name: "loop", setup: func(p *pipeline.Player) { p.Loop(1) }}
		}
		return script{name: "play"}
	}
	switch turn % 6 {
	case 1:
		return script{name: "seek", steps: []step{{at: 400 * time.Millisecond, do: func(p *pipeline.Player) {
			_ = p.Seek(done, d/2) // encoded by then: the track is short and cached
		}}}}
	case 2:
		return script{name: "loop", setup: func(p *pipeline.Player) { p.Loop(1) }}
	case 3:
		return script{name: "pause and resume", steps: []step{
			{at: 500 * time.Millisecond, do: func(p *pipeline.Player) { p.Pause() }},
			{at: 900 * time.Millisecond, do: func(p *pipeline.Player) { p.Resume() }},
		}}
	case 4:
		return script{name: "skip", steps: []step{{at: 700 * time.Millisecond, skip: true}}}
	case 5:
		return script{name: "loop a section", setup: func(p *pipeline.Player) {
			_ = p.LoopSection(200*time.Millisecond, 800*time.Millisecond, 1)
		}}
	}
	return script{name: "play"}
}

// botSummary sums up the fleet.
type botSummary struct {
	Guilds, Connected int
	Modes             map[string]int
	Failed            map[string]int // handshake errors, by text
	Sent              int64
	Plays             map[string]int
	Commands          map[string]int
	Resumes, Reopens  int64
	Underruns, Late   int64
	First             []time.Duration
}

func (f *fleet) summary() botSummary {
	s := botSummary{Guilds: len(f.bots), Modes: map[string]int{}, Failed: map[string]int{}, Plays: map[string]int{}, Commands: map[string]int{}}
	for _, b := range f.bots {
		b.mu.Lock()
		if b.mode != "" {
			s.Connected++
			s.Modes[b.mode]++
		}
		if b.err != nil {
			var ce *voice.CloseError
			msg := b.err.Error()
			if errors.As(b.err, &ce) {
				msg = ce.Error()
			}
			s.Failed[msg]++
		}
		s.Sent += b.sent
		for k, v := range b.plays {
			s.Plays[k] += v
		}
		for k, v := range b.commands {
			s.Commands[k] += v
		}
		s.Resumes += b.resumes
		s.Reopens += b.reopens
		s.Underruns += b.underruns
		s.Late += b.late
		if b.first > 0 {
			s.First = append(s.First, b.first)
		}
		b.mu.Unlock()
	}
	sort.Slice(s.First, func(i, j int) bool { return s.First[i] < s.First[j] })
	return s
}
