package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// defaultTracks are the fixtures played when no -tracks are given: MP3,
// WAV and Ogg Opus, at several rates and channel counts, 1 to 3 s each,
// so that a run of half a minute crosses many track ends, loops and seeks.
var defaultTracks = []string{
	"prog_48000.mp3",         // the 3 s program: silence, 440/660 Hz tones, silence, a sweep
	"tone1k_s16_48000_2.wav", // 1 s of 1 kHz
	"prog.opus",              // the program as Ogg Opus, framed as it is
	"prog_22050_mono.mp3",    // resampled from 22.05 kHz, mono to stereo
	"tone_s24_44100_2.wav",   // 24-bit at 44.1 kHz
}

// testdata finds the repository's testdata folder: under the working
// directory, or beside this source file (go run from elsewhere).
func testdata() string {
	if fi, err := os.Stat("testdata"); err == nil && fi.IsDir() {
		return "testdata"
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return "testdata"
}

// testdataPath returns the path of a fixture.
func testdataPath(name string) string { return filepath.Join(testdata(), name) }

// catalogue is the list of tracks, the same in the bots and the server:
// a packet's label names a track by its index here.
type catalogue struct {
	paths  []string       // the tracks to play, then the bad files faults inject
	played int            // how many of paths are the tracks to play
	opens  []atomic.Int64 // times each source was opened with none of its files open: encodes
	// segments counts the opens of a source while it was open already:
	// a track that encodes a segment for a seek ahead of its encode opens
	// its source a second time (see package pipeline's segments).
	segments []atomic.Int64
	open     []atomic.Int64 // files of each source open now
}

// Bad files the faults put in two guilds' queues.
var badTracks = []string{"garbage.mp3", "no-such-track.mp3"}

func newCatalogue(tracks []string, faults bool) *catalogue {
	c := &catalogue{paths: append([]string(nil), tracks...), played: len(tracks)}
	if faults {
		for _, b := range badTracks {
			c.paths = append(c.paths, testdataPath(b))
		}
	}
	c.opens = make([]atomic.Int64, len(c.paths))
	c.segments = make([]atomic.Int64, len(c.paths))
	c.open = make([]atomic.Int64, len(c.paths))
	return c
}

func (c *catalogue) name(i int) string {
	if i < 0 || i >= len(c.paths) {
		return fmt.Sprintf("track %d", i)
	}
	return filepath.Base(c.paths[i])
}

func (c *catalogue) key(i int) pipeline.Key { return pipeline.Key{Source: c.paths[i]} }

// index returns the index of the track of source, 0 if it is none of
// the catalogue's.
func (c *catalogue) index(source string) int {
	for i, p := range c.paths {
		if p == source {
			return i
		}
	}
	return 0
}

// opener is the Library's opener: a file, counted when it is one of
// ours.
func (c *catalogue) opener(_ context.Context, source string) (io.Reader, error) {
	f, err := os.Open(source)
	if err != nil {
		return nil, err
	}
	for i, p := range c.paths {
		if p == source {
			if c.open[i].Add(1) > 1 {
				c.segments[i].Add(1)
			} else {
				c.opens[i].Add(1)
			}
			return &countedFile{File: f, open: &c.open[i]}, nil
		}
	}
	return f, nil // the Library closes what it opens when it is an io.Closer
}

// countedFile is a file of the catalogue, counted open until closed.
type countedFile struct {
	*os.File
	open   *atomic.Int64
	closed atomic.Bool
}

func (f *countedFile) Close() error {
	if !f.closed.Swap(true) {
		f.open.Add(-1)
	}
	return f.File.Close()
}

// reference is a track decoded once on the server, packet by packet, for
// comparing what each guild heard with what that place in the track
// holds: pcm[i] is the stream's sample i, pre-skip included, so a packet at
// position p starts at pcm[(p+preSkip)*2].
type reference struct {
	done    chan struct{} // closed once the fields below are set
	pcm     []int16       // stereo, interleaved
	preSkip int64
	err     error
}

// maxReference bounds a reference: 20 minutes of stereo at 48 kHz.
const maxReference = 20 * 60 * 48000 * 2

// references loads each track's reference on first use, from a Library.
type references struct {
	lib  *pipeline.Library
	cat  *catalogue
	mu   sync.Mutex // guards refs
	refs map[int]*reference
}

// get returns the track's reference, starting its load if need be; wait
// on its done channel.
func (rs *references) get(ctx context.Context, track int) *reference {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r := rs.refs[track]; r != nil {
		return r
	}
	r := &reference{done: make(chan struct{})}
	rs.refs[track] = r
	if track < 0 || track >= len(rs.cat.paths) {
		r.err = fmt.Errorf("no track %d in the list", track)
		close(r.done)
		return r
	}
	go func() {
		defer close(r.done)
		r.pcm, r.preSkip, r.err = decodeTrack(ctx, rs.lib, rs.cat.key(track))
	}()
	return r
}

// decodeTrack decodes every packet of the track of key, in order, with
// one decoder, as a receiver playing it from the start would.
func decodeTrack(ctx context.Context, lib *pipeline.Library, key pipeline.Key) ([]int16, int64, error) {
	h, err := lib.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer h.Release()
	t := h.Track()
	select {
	case <-t.Done():
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	// A track that failed keeps the packets before its failure, which
	// its listeners heard: those are checked.
	x, ok := t.Index()
	if !ok {
		if err := t.Err(); err != nil {
			return nil, 0, err
		}
		return nil, 0, errors.New("no index")
	}
	dec, err := libopus.NewPacketDecoder(2)
	if err != nil {
		return nil, 0, err
	}
	var pcm []int16
	cur := t.NewCursor()
	for {
		p, err := cur.Next()
		if err != nil {
			if len(pcm) == 0 && !errors.Is(err, io.EOF) {
				return nil, 0, err
			}
			break
		}
		s, err := dec.Decode(p.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("packet %d: %w", p.Index, err)
		}
		if len(pcm)+len(s) > maxReference {
			return nil, 0, fmt.Errorf("longer than %d minutes, too long to check", maxReference/48000/2/60)
		}
		pcm = append(pcm, s...)
	}
	return pcm, x.PreSkip(), nil
}
