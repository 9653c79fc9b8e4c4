// Package pipeline turns sources into tracks that are encoded once and
// played to any number of listeners.
//
// # Sources
//
// A Track reads an io.Reader, which it owns (closing it when it ends, if
// it is an io.Closer). Beside any reader, the package has sources that
// open nothing until their first Read, so that NewTrack never blocks:
//
//   - OpenFile: a file, reopened at the offset reached after a read error;
//   - NewSeekerSource: any io.ReadSeeker, sought back after a read error;
//   - NewCommandSource: a command's output (ffmpeg, a downloader), its
//     process group killed on Close, its standard error quoted when it
//     fails;
//   - OpenHTTP: an HTTP(S) resource, resumed after a dropped connection
//     with Range and If-Range on a strong validator only, identity
//     encoding only, and never spliced with a changed file (ErrChanged);
//     on an internet radio stream (Icecast, Shoutcast) it strips the ICY
//     metadata from the audio and publishes each StreamTitle change with
//     the audio byte offset it applies from (HTTPSource.Titles, read
//     without a lock), and after a dropped connection joins the live point
//     again, marking the jump (HTTPSource.Reconnects).
//
// A track gives up on a source that gives no byte for its stall timeout
// (30 s by default, none for a live track; WithStallTimeout), whatever the
// source: it is closed, and the track fails with ErrStalled.
//
// # Tracks
//
// NewTrack detects the input (MP3, FLAC, WAV, Ogg Opus, WebM; raw PCM
// when told), decodes, resamples to 48 kHz, encodes to Opus (20 ms stereo
// 128 kbit/s by default) and frames the packets into a catcher.Catcher,
// in the background; Ogg Opus and WebM or Matroska with Opus are framed
// as they are. Listeners read it through
// framed.Cursors (Track.NewCursor): a packet number each, the packets lent
// from the cache, so that a hundred listeners cost one encode and a
// hundred small cursors. A listener at the head waits only for the next
// packet. The duration is exact to the sample once the track is finished
// (the MP3 encoder's delay and padding, the Opus pre-skip and end trimming
// honoured), an estimate before.
//
// Encoding competes with real-time sending, so it runs in a Pool that
// bounds how many tracks encode at once (GOMAXPROCS by default), a packet
// at a time, a track a listener waits for (or a live one) going first.
// Where two slots are free, a track that decodes and encodes runs its
// decoding on a goroutine of its own beside its encoding (WithPipelined),
// each side a slot at a time: the same packets, in less time.
//
// A live track (WithLive) is for an endless source: the cache and the
// packet index keep only a window, so memory stays bounded however long
// it runs, and a listener that falls behind is told and skips ahead. It
// is encoded in real time (WithPacing), so that a file made live plays as
// a radio does. A live track of Ogg Opus plays a chained stream across
// its links (a radio's new headers at each song) and goes on after a
// reconnect's splice (ogg.WithChains).
//
// A track's titles (Track.Titles) are placed on its timeline: an internet
// radio's StreamTitle changes and reconnects, from its HTTPSource, at the
// MP3 frame their byte falls before, and each Ogg link's TITLE and ARTIST
// at the link's first packet; a Player's Title is the one at the packet
// it gave last, what its listener hears.
//
// A PCMReader (Track.NewPCMReader) decodes a track back to samples from
// any position, with the Opus pre-roll done, for local playback or mixing.
//
// # Players, the scheduler, broadcasts
//
// A Player (Track.NewPlayer) is one listener's cursor, about 140 bytes:
// the next packet with its timestamp and duration, borrowed from the
// cache; seek by time; pause and resume; loops of the whole track or a
// section, packet-continuous; five silence frames at a pause and at the
// end. Its Next never waits for the encoding: a packet not encoded yet is
// ErrUnderrun.
//
// A receiver decodes a player's stream with one decoder, whose state runs
// from packet to packet, so a jump (a loop, a seek, a resume) would give
// it packets coded for another state: the first frames after a jump come
// out several decibels too loud, a click or a burst. At each jump a player
// sends instead a short transition (60 ms), encoded once per track and
// jump and shared by every player that makes it, that takes the
// receiver's decoder from where it was to where it goes without a click:
// no more than 1 dB above the louder side, measured over many seams
// (TestSeamBound). WithSeams(false) turns them off.
//
// A Scheduler drives many players in real time on a few goroutines (at
// most GOMAXPROCS shards), each listener on an absolute 20 ms grid, a
// listener being a callback that borrows each packet. Catch-up is bounded
// and resynchronisation counted; a live track's listener never catches up,
// and once at the live edge is held there, skipping to it rather than
// sending late packets. Lateness, underruns, skips and the time
// to the first packet are measured per listener and per shard. Its Clock
// is injectable: a FakeClock makes its tests exact and sleepless.
//
// A Queue is a queue player, what a guild's bot plays: a Library's
// tracks one after another, commanded from any goroutine (play now,
// enqueue, insert, remove, move, clear, shuffle, skip, stop, seek, pause,
// loops, filters), each command returning at once and applied at the next
// packet boundary, entries named by the IDs it gives. It holds and loads
// the next entries while one plays, never waits for a track (a seek past
// what is encoded is made from a segment encoded from there, or once it
// is encoded), and tells its events (started, ended with a reason, stuck,
// position, title, filters) on a channel or to a function. Its filters
// (SetFilters) are the player's, as Lavalink has them: every entry plays
// its track's variant with the chain, a Library entry of its own encoded
// once for every queue with that chain, the current one switching at the
// same place in the music (a timescale's positions scaled).
// It is driven as a Player is (its Next), so that a Scheduler (AddQueue)
// and the sinks take it as they take a player.
//

// paced ones (voice, WebRTC) at the live point, buffered ones (an HTTP
// stream) with a burst and a bounded queue, slow ones skipping ahead or
// dropped.
//
// # The library
//
// A Library holds a process's tracks by Key (a source and its encoding
// settings): concurrent Gets of one key make one load, which a caller's
// cancelled context does not stop; a failed load is forgotten, and tried
// again; tracks no one holds are evicted, the least recently used first,
// under a memory budget that counts every byte of every track in memory,
// and a Get that must load while the budget is full of tracks in use is
// refused (ErrOverBudget). A Hold, or a Player made from one, keeps its
// track until its Release or Close. With a Store (a DirStore: a directory
// under a byte budget of its own), each finished encoding is written in a
// checksummed format (see trackfile.go) and read back, by this process
// after an eviction or by another after a restart, without decoding or
// encoding; a stored track that fails its checks, when it is opened or as
// it is read, is counted, reported, removed and encoded again, and no
// listener is given a packet that failed them.
//
// Mixing several tracks, or a volume per listener, is not done on the
// encoded path: it needs a decode per listener (a PCMReader each).
//
// # Without cgo
//
// Opus encoding and decoding are libopus's, through cgo (package
// libopus), and only opus_cgo.go names it. Built with CGO_ENABLED=0, the
// package plays Ogg Opus and WebM input, framed as it is; a track of any
// other input ends with ErrNoLibopus, as does a PCMReader's read.
package pipeline
