package main

// This file is the bot: what the author of a music bot writes, to be read
// top to bottom. The rest of this directory (main.go and the harness_*
// files; see README.md) is the example's test harness: a Discord-like
// voice server on loopback, listeners that decode and check every packet
// the bots send, and the chat users who give the bots their commands.

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// Music is what the bots of every guild share: one Library, so that each
// track is loaded and encoded once however many guilds play it (and kept
// on disk for the next time, if the Library has a store), and one
// Scheduler, whose few goroutines (one per core) send the packets of
// every guild at their 20 ms deadlines.
type Music struct {
	lib   *pipeline.Library
	sched *pipeline.Scheduler
	log   func(format string, args ...any) // the bot's own log, for whoever runs it

	broken sync.Map // source → error: tracks that failed, not queued again
}

// NewMusic returns the shared part of the bots; log is where they report
// what their operator should know.
func NewMusic(lib *pipeline.Library, sched *pipeline.Scheduler, log func(format string, args ...any)) *Music {
	return &Music{lib: lib, sched: sched, log: log}
}

// Bot is one guild's music bot: a queue of tracks, played into the
// guild's voice channel. Its commands (Play, Enqueue, Skip, Seek...) are
// what the guild's users ask for in chat. Any goroutine may give them,
// and each returns at once: the queue applies it at its next packet, 20
// ms later at most, never waiting for a track to load. So the bot has no
// lock and no goroutine of its own to control what plays.
type Bot struct {
	music *Music
	guild string
	queue *pipeline.Queue                      // what the guild hears
	say   func(ev pipeline.Event, text string) // posts to the guild's text channel
	told  chan struct{}                        // closed once tell has told every event

	// Set by Join.
	conn  *voice.Conn        // the guild's voice channel
	sends *pipeline.Listener // the queue on the Scheduler, sending into conn
}

// Bot returns the bot of a guild, its queue empty: users may queue
// tracks before it joins a channel. It cross-fades from each track into
// the next over fade (an equal-power fade, encoded once for every guild
// that plays the same two tracks); with a fade of 0, it joins them
// gapless, as an album plays. say posts text to the guild's text
// channel, about the event given.
func (m *Music) Bot(guild string, fade time.Duration, say func(ev pipeline.Event, text string)) *Bot {
	b := &Bot{music: m, guild: guild, say: say, told: make(chan struct{})}
	b.queue = pipeline.NewQueue(m.lib,
		pipeline.WithCrossfade(fade),
		pipeline.WithEvents(64),       // events come on a channel, which tell reads
		pipeline.WithPositionEvery(0), // no position events: this bot shows no progress bar
	)
	go b.tell()
	return b
}

// Join joins the guild's voice channel and starts sending the queue into
// it. The main gateway gives the bot what it needs once it has asked to
// join a channel: st, from VOICE_STATE_UPDATE (its session), and su, from
// VOICE_SERVER_UPDATE (the voice server and a token); package voice shows
// how with disgo, discordgo and arikawa. opts are the connection's
// (encryption modes and so on); DAVE, which Discord requires, is on by
// default.
func (b *Bot) Join(ctx context.Context, su voice.ServerUpdate, st voice.StateUpdate, opts ...voice.Option) error {
	conn, err := voice.Connect(ctx, su, st, opts...)
	if err != nil {
		return err
	}
	b.conn = conn
	// The queue becomes one listener of the Scheduler: at each deadline
	// its next packet goes to conn.Send, which numbers, encrypts and
	// sends it without blocking. An idle or paused queue sends nothing;
	// the connection tells the channel when the bot starts and stops
	// speaking. If the connection drops, it reconnects by itself.
	b.sends = b.music.sched.AddQueue(b.queue, conn.Send)
	return nil
}

// The commands. A command names a queue entry by its EntryID, never
// "whatever plays when it is applied": Seek and LoopSection name the
// track playing now, and do nothing if another user's Skip comes first.

// Play plays source now, in place of the track playing; the queue after
// it stays as it is.
func (b *Bot) Play(source string) error {
	if err := b.playable(source); err != nil {
		return err
	}
	b.queue.Play(pipeline.Key{Source: source})
	return nil
}

// Enqueue adds source at the end of the queue. An idle bot plays it at
// once; otherwise the queue loads it while the track before plays, and
// joins the two without a gap.
func (b *Bot) Enqueue(source string) error {
	if err := b.playable(source); err != nil {
		return err
	}
	b.queue.Enqueue(pipeline.Key{Source: source})
	return nil
}

// playable refuses a track that failed before, in any guild.
func (b *Bot) playable(source string) error {
	if err, ok := b.music.broken.Load(source); ok {
		return fmt.Errorf("%s does not play: %w", trackName(source), err.(error))
	}
	return nil
}

// Skip ends the track playing; the next one in the queue plays.
func (b *Bot) Skip() { b.queue.Skip(1) }

// Seek moves the track playing to d. It never waits: a place not
// encoded yet is played from as soon as it is.
func (b *Bot) Seek(d time.Duration) { b.queue.Seek(b.queue.Playing().ID, d) }

// Pause pauses the music, where it is; Resume goes on from there.
func (b *Bot) Pause()  { b.queue.Pause() }
func (b *Bot) Resume() { b.queue.Resume() }

// Loop repeats the track playing, seamlessly, until Loop(false) or Skip.
func (b *Bot) Loop(on bool) {
	if on {
		b.queue.Loop(pipeline.LoopTrack)
	} else {
		b.queue.Loop(pipeline.LoopOff)
	}
}

// LoopSection repeats [from, to) of the track playing until Loop(false)
// or Skip. An empty section is refused.
func (b *Bot) LoopSection(from, to time.Duration) error {
	return b.queue.LoopSection(b.queue.Playing().ID, from, to)
}

// Stop ends the track playing and empties the queue.
func (b *Bot) Stop() { b.queue.Stop() }

// List returns the tracks queued after the one playing, in order.
func (b *Bot) List() []string {
	var out []string
	for _, e := range b.queue.State().Entries {
		out = append(out, trackName(e.Key.Source))
	}
	return out
}

// NowPlaying returns the track whose audio is being sent, "" if none.
func (b *Bot) NowPlaying() string { return trackName(b.queue.Playing().Key.Source) }

// tell tells the guild's text channel what the queue does, as it does it:
// each track's start, its end and why. A track that fails is told once in
// the bot's log too, and no guild queues it again; the queue goes on to
// the next track by itself.
func (b *Bot) tell() {
	defer close(b.told)
	for ev := range b.queue.Events() { // closed when the queue is
		name := trackName(ev.Key.Source)
		switch {
		case ev.Kind == pipeline.EventStarted:
			b.say(ev, "now playing "+name)
		case ev.Kind == pipeline.EventEnded && ev.Reason == pipeline.EndFailed:
			b.say(ev, fmt.Sprintf("%s failed: %v", name, ev.Err))
			if _, seen := b.music.broken.LoadOrStore(ev.Key.Source, ev.Err); !seen {
				b.music.log("%s: track %s: %v; no guild plays it again", b.guild, name, ev.Err)
			}
			for _, e := range b.queue.State().Entries { // the same track queued again here
				if e.Key.Source == ev.Key.Source {
					b.queue.Remove(e.ID)
				}
			}
		case ev.Kind == pipeline.EventEnded:
			b.say(ev, fmt.Sprintf("%s %s", name, ev.Reason)) // finished, skipped, stopped, replaced, removed
		case ev.Kind == pipeline.EventStuck:
			b.say(ev, fmt.Sprintf("%s is stuck: nothing to send for %v", name, ev.Stalled))
		}
	}
}

// Leave stops the music and leaves the voice channel. The queue's Stop
// sends five silence frames first, so that the listeners' decoders end
// on silence rather than make up a tail.
func (b *Bot) Leave() {
	if b.sends != nil {
		b.queue.Stop()
		select {
		case <-b.sends.Done(): // it ended by itself: the connection failed
			b.music.log("%s: sending ended: %v", b.guild, b.sends.Err())
		case <-time.After(time.Duration(opus.SilenceFrames+2) * 20 * time.Millisecond):
		}
		b.sends.Remove()
		<-b.sends.Done()
		b.conn.Close()
	}
	b.queue.Close() // and its events: tell returns
	<-b.told
}

// trackName is what the bot calls a track: its file's name.
func trackName(source string) string {
	if source == "" {
		return ""
	}
	return filepath.Base(source)
}
