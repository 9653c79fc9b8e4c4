package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// recording writes what one guild was heard to say as an Ogg Opus file,
// from the packets as they came, without decoding or encoding again. The
// file's head is written with the first packet, whose label says its
// pre-skip (heardHead).
type recording struct {
	f     *os.File
	w     *ogg.OpusWriter // nil until the first packet
	title string
	err   error
	path  string
}

// newRecorder returns the verifier's recorder for files in dir.
func newRecorder(dir string, warn func(format string, args ...any)) func(guild string) *recording {
	return func(guild string) *recording {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == 0 {
				return '_'
			}
			return r
		}, guild) + ".opus"
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			warn("record %s: %v", guild, err)
			return nil
		}
		return &recording{f: f, title: guild, path: path}
	}
}

// write adds packet p, labelled l.
func (r *recording) write(p []byte, l label) {
	if r.err != nil {
		return
	}
	if r.w == nil {
		if r.w, r.err = ogg.NewOpusWriter(r.f, heardHead(l), heardTags(r.title)); r.err != nil {
			return
		}
	}
	r.err = r.w.WritePacket(p)
}

func (r *recording) close() {
	if r.w == nil && r.err == nil { // nothing heard: a stream with no audio
		r.w, r.err = ogg.NewOpusWriter(r.f, heardHead(label{}), heardTags(r.title))
	}
	if r.w != nil {
		if err := r.w.Close(); r.err == nil {
			r.err = err
		}
	}
	if err := r.f.Close(); r.err == nil {
		r.err = err
	}
	if r.err != nil {
		r.err = fmt.Errorf("record %s: %w", r.path, r.err)
	}
}
