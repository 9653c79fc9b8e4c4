package pipeline

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/transform"
)

// filterStages returns the stages that apply the track's filters to PCM
// of format f (F32LE at 48 kHz, the track's channels) and give the
// encoder's input: the filters, then the conversion to S16LE, dithered.
func (t *Track) filterStages(f transform.Format) ([]catcher.Transform, error) {
	cf, err := transform.NewChainFilter(f, t.cfg.filters)
	if err != nil {
		return nil, err
	}
	to16, err := transform.NewConvert(f, transform.S16LE, transform.WithDither(1))
	if err != nil {
		return nil, err
	}
	return []catcher.Transform{cf, to16}, nil
}

// buildFilteredOpus makes the transform of a filtered track of Ogg Opus or
// WebM input, which cannot be framed as it is: its packets decoded with
// libopus (the pre-skip and end trimming honoured), filtered and encoded.
// A build without libopus fails with noEnc.
// h, if not nil, is the handoff of a pipelined transcode.
func (t *Track) buildFilteredOpus(kind codec.Kind, in io.Reader, enc encoder, noEnc error, h *handoff) (catcher.Transform, io.Reader, *pipelined, error) {
	if enc == nil {
		return nil, nil, nil, noEnc
	}
	var d framed.PacketSource = ogg.NewOpusDemuxer(t.demuxOptions()...)
	if kind == codec.KindWebM {
		d = webm.NewOpusDemuxer()
	}
	pd, err := newPacketDecoder(t.cfg.channels)
	if err != nil {
		return nil, nil, nil, err
	}
	f16 := pcmFormat(t.cfg.channels)
	toF, err := transform.NewConvert(f16, transform.F32LE)
	if err != nil {
		return nil, nil, nil, err
	}
	filters, err := t.filterStages(toF.Out())
	if err != nil {
		return nil, nil, nil, err
	}
	g := &gated{PacketSource: enc, slot: &t.slot}
	t.reportBuilt(true)
	stages := append([]catcher.Transform{&opusPCM{src: d, dec: pd, ch: t.cfg.channels, skip: -1, end: -1}, toF}, filters...)
	last := framed.NewFramer(pace(g, pacingOf(t.cfg), t.ctx), t.framerOptions()...)
	source := codec.Source{Kind: kind, Format: f16}
	if h != nil {
		h.r = t.src // the decoding reads the source itself from here on
		p := t.newPipelined(stages, last)
		return catcher.Annotate(p, source), in, p, nil
	}
	return catcher.Annotate(catcher.Chain(append(stages, last)...), source), in, nil, nil
}

// filteredDuration returns d, a duration of the source, as long as the
// filters make it: divided by a timescale's speed and rate.
func (t *Track) filteredDuration(d time.Duration) time.Duration {
	if ts := t.cfg.filters.Timescale; ts != nil {
		return time.Duration(float64(d) / (ts.Speed * ts.Rate))
	}
	return d
}

// opusPCM is a Transform from an Opus stream (a demuxer's packets) to
// S16LE PCM at 48 kHz: each packet decoded in turn, the stream's pre-skip
// dropped and, at its end, its true length kept. While the stream goes on
// it keeps back holdback samples, the most its end trimming can cut.
// An error of the stream, other than its end, ends the output after
// every sample decoded.
type opusPCM struct {
	src  framed.PacketSource
	dec  packetDecoder
	ch   int
	skip int64   // samples still to drop; -1 until the first packet, which tells the pre-skip
	end  int64   // the samples to write in all, once the stream's end gives its length; -1 else
	out  int64   // samples written
	pend []int16 // decoded, pend[r:] not yet written
	r    int
	err  error // the stream's end, once met
}

// MinSpace is one frame.
func (o *opusPCM) MinSpace() int { return 2 * o.ch }

// Size is the memory it holds: its buffer and libopus's state (about 20
// KB), and the demuxer's if it says (see catcher.Sizer).
func (o *opusPCM) Size() int64 {
	n := int64(2*cap(o.pend)) + 20<<10
	if s, ok := o.src.(catcher.Sizer); ok {
		n += s.Size()
	}
	return n
}

// Transform writes decoded PCM into dst, following the catcher.Transform
// contract.
func (o *opusPCM) Transform(dst []byte, src io.Reader) (int, error) {
	for {
		ready := int64((len(o.pend) - o.r) / o.ch)
		switch {
		case o.err == nil:
			ready -= holdback
		case o.end >= 0:
			ready = min(ready, o.end-o.out)
		}
		if ready > 0 {
			n := min(ready, int64(len(dst)/(2*o.ch)))
			for i, v := range o.pend[o.r : o.r+int(n)*o.ch] {
				binary.LittleEndian.PutUint16(dst[2*i:], uint16(v))
			}
			o.r += int(n) * o.ch
			o.out += n
			return int(n) * 2 * o.ch, nil
		}
		if o.err != nil {
			return 0, o.err
		}
		p, err := o.src.NextPacket(src)
		if err != nil {
			o.err = err
			if err == io.EOF {
				if l := o.src.Length(); l >= 0 {
					o.end = l
				}
			}
			continue
		}
		if o.skip < 0 {
			o.skip = o.src.PreSkip()
		}
		pcm, err := o.dec.Decode(p)
		if err != nil {
			o.err = err
			continue
		}
		k := int64(len(pcm) / o.ch)
		from := min(o.skip, k)
		o.skip -= from
		o.pend = append(o.pend[:copy(o.pend, o.pend[o.r:])], pcm[from*int64(o.ch):]...)
		o.r = 0
	}
}
