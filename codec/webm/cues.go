package webm

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// CuePoint is one entry of a file's Cues for its Opus track: where a
// Cluster starts, in time and in bytes.
type CuePoint struct {
	// Time is the cue's timestamp: the time of a block of the track in
	// the Cluster (its first, as ffmpeg writes them; mkvmerge's may point
	// at a later one), counted from the start of the decoded stream, the
	// pre-skip (CodecDelay) included, at the file's timestamp precision
	// (TimestampScale: a millisecond as ffmpeg writes it).
	Time time.Duration
	// Sample is Time in samples at 48 kHz, rounded: the pre-skip included,
	// as framed counts samples.
	Sample int64
	// Offset is the byte offset of the Cluster element in the file.
	Offset int64
}

// ReadCues reads the Cues of the file r: it reads the headers (see
// OpusDemuxer.ReadHeaders), then the Cues where the SeekHead says they are,
// or else looks for them after the Clusters, skipping each by its size.
// The points are those of the Opus track, in time order. Errors: the
// headers'; ErrNoCues (wrapped) for a file without Cues, or none for the
// track; ErrCorrupt, io.ErrUnexpectedEOF (wrapped) or r's. It leaves r
// at an unspecified offset.
func ReadCues(r io.ReadSeeker) ([]CuePoint, error) {
	_, cues, err := readCues(r)
	return cues, err
}

// readCues reads the headers of r into a new demuxer, and the Cues.
func readCues(r io.ReadSeeker, opts ...DemuxOption) (*OpusDemuxer, []CuePoint, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	d := NewOpusDemuxer(opts...)
	if err := d.ReadHeaders(r); err != nil {
		return nil, nil, err
	}
	var h header
	if d.cues >= 0 {
		off := d.segData + d.cues
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return nil, nil, err
		}
		rd := newReader(r, off)
		var err error
		if h, err = rd.next(); err != nil || h.id != idCues {
			if err == nil {
				err = fmt.Errorf("%w: %s at offset %d, where the SeekHead puts the Cues", ErrCorrupt, name(h.id), off)
			}
			return nil, nil, fmt.Errorf("webm: Cues: %w", unexpected(err))
		}
		d.r = rd
	} else {
		var err error
		if h, err = d.findCues(r); err != nil {
			return nil, nil, err
		}
	}
	var cues []CuePoint
	err := d.r.children(h, func(c header) error {
		if c.id != idCuePoint {
			return nil
		}
		var t, pos uint64
		var ok bool
		err := d.r.children(c, func(e header) error {
			var err error
			switch e.id {
			case idCueTime:
				t, err = d.r.uint(e)
			case idCueTrackPositions:
				var track, p uint64
				var hasPos bool
				err = d.r.children(e, func(f header) error {
					var err error
					switch f.id {
					case idCueTrack:
						track, err = d.r.uint(f)
					case idCueClusterPosition:
						p, err = d.r.uint(f)
						hasPos = true
					}
					return err
				})
				if err == nil && track == d.track.number && hasPos && !ok {
					pos, ok = p, true
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if ok && pos < 1<<56 && t < 1<<56/uint64(d.scale) {
			cues = append(cues, CuePoint{
				Time:   time.Duration(int64(t) * d.scale),
				Sample: d.ticksToSamples(int64(t)),
				Offset: d.segData + int64(pos),
			})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("webm: Cues: %w", err)
	}
	if len(cues) == 0 {
		return nil, nil, fmt.Errorf("%w: Cues with no point for the Opus track", ErrNoCues)
	}
	slices.SortStableFunc(cues, func(a, b CuePoint) int { return cmp.Compare(a.Time, b.Time) })
	return d, cues, nil
}

// findCues looks for the Cues after the headers, at the Segment's level:
// each element skipped by seeking past it, a Cluster of unknown size by
// walking its children.
func (d *OpusDemuxer) findCues(r io.ReadSeeker) (header, error) {
	if d.clusters < 0 {
		return header{}, fmt.Errorf("%w: no Cluster", ErrNoCues)
	}
	off := d.clusters
	inUnknown := false // inside a Cluster of unknown size
	for {
		if d.segEnd >= 0 && off >= d.segEnd {
			return header{}, ErrNoCues
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return header{}, err
		}
		rd := newReader(r, off)
		h, err := rd.next()
		if err == io.EOF {
			return header{}, ErrNoCues
		}
		if err != nil {
			return header{}, fmt.Errorf("webm: looking for the Cues: %w", err)
		}
		switch {
		case h.id == idCues:
			if h.size == unknownSize {
				return header{}, fmt.Errorf("%w: Cues of unknown size", ErrCorrupt)
			}
			d.r = rd
			return h, nil
		case h.id == idEBML && d.segEnd < 0:
			return header{}, ErrNoCues
		case h.id == idCluster && h.size == unknownSize:
			inUnknown = true
			off = h.data
		case h.size == unknownSize:
			return header{}, fmt.Errorf("%w: %s at offset %d has an unknown size", ErrCorrupt, name(h.id), h.off)
		case inUnknown && clusterChild(h.id), !inUnknown:
			off = h.end()
		default: // the end of the Cluster of unknown size: h is its sibling
			inUnknown = false
		}
	}
}

// Seek returns a demuxer of the file r that starts at the Cluster of the
// Cues at or before the seek pre-roll before t (the track's SeekPreRoll,
// or 80 ms, RFC 7845's, if it gives none), so that a decoder given its
// packets has converged by t; and the sample at which its first packet
// starts (counted as CuePoint.Sample is, the pre-skip included; exact to
// the file's timestamp precision). t is a position in the track, after
// the pre-skip; before 0 it is 0. The demuxer reads r from there with
// NextPacket(r); its headers are the file's, its Length counts the
// packets it reads. Errors: as ReadCues.
func Seek(r io.ReadSeeker, t time.Duration, opts ...DemuxOption) (*OpusDemuxer, int64, error) {
	d, cues, err := readCues(r, opts...)
	if err != nil {
		return nil, 0, err
	}
	preRoll := opus.Samples(time.Duration(d.track.preRoll))
	if preRoll <= 0 {
		preRoll = opus.PreRoll
	}
	target := opus.Samples(max(t, 0)) + d.PreSkip() - preRoll
	i := max(0, sortSearch(cues, target)-1)
	c := cues[i]
	if _, err := r.Seek(c.Offset, io.SeekStart); err != nil {
		return nil, 0, err
	}
	d.r, d.src = newReader(r, c.Offset), r
	d.inCluster, d.clusterEnd, d.hasPending = false, -1, false
	d.frames, d.next = d.frames[:0], 0
	// The Cluster's first block of the track tells where it starts (a cue
	// may point at a later block of the Cluster): read it now, its
	// packets kept for NextPacket.
	if err := d.advance(); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%w: no block of the track after the cue at %v", ErrCorrupt, c.Time)
		}
		return nil, 0, err
	}
	return d, d.ticksToSamples(d.blockTS), nil
}

// ticksToSamples converts a timestamp in TimestampScale ticks to samples
// at 48 kHz, rounded.
func (d *OpusDemuxer) ticksToSamples(t int64) int64 {
	t = min(max(t, 0), 1<<56/d.scale)
	return (t*d.scale*(opus.SampleRate/1000) + int64(time.Millisecond)/2) / int64(time.Millisecond)
}

// sortSearch returns the number of cues at or before sample s.
func sortSearch(cues []CuePoint, s int64) int {
	i, _ := slices.BinarySearchFunc(cues, s+1, func(c CuePoint, s int64) int {
		if c.Sample < s {
			return -1
		}
		return 1
	})
	return i
}
