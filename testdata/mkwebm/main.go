//go:build ignore

// mkwebm writes the Opus packets of an Ogg Opus file as WebM, laced as
// asked, for the fixtures that no muxer writes (make.sh runs it):
//
//	go run mkwebm/main.go -lacing xiph|ebml|none -frames n [-unknown] [-title t -artist a] [-length n] in.ogg out.webm
//
// Xiph and EBML lacing put n packets in a block; EBML lacing puts a run
// of packets of one size in a fixed-size laced block instead. The last
// block is a BlockGroup with the DiscardPadding that trims the end to
// -length samples after the pre-skip (the Ogg file's length by default:
// ffmpeg's Ogg muxer does not trim, so make.sh gives it). -unknown writes the Segment and its Clusters with an
// unknown size, as a browser's MediaRecorder does, a Void in each
// Cluster and a Tags element after the last one; without it every size is
// known. The Info has a CRC-32. There are no Cues.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"math"
	"os"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

func main() {
	lacing := flag.String("lacing", "none", "xiph, ebml or none")
	frames := flag.Int("frames", 1, "packets a laced block")
	unknown := flag.Bool("unknown", false, "Segment and Clusters of unknown size")
	title := flag.String("title", "", "TITLE tag")
	artist := flag.String("artist", "", "ARTIST tag")
	length := flag.Int64("length", -1, "samples after the pre-skip (default: the Ogg file's)")
	flag.Parse()
	if flag.NArg() != 2 || *frames < 1 || *frames > 256 {
		log.Fatal("usage: mkwebm -lacing xiph|ebml|none -frames n [-unknown] in.ogg out.webm")
	}
	in, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	d := ogg.NewOpusDemuxer()
	src := bytes.NewReader(in)
	var packets [][]byte
	var total int64
	for {
		p, err := d.NextPacket(src)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		n, _ := opus.PacketSamples(p)
		total += n
		packets = append(packets, bytes.Clone(p))
	}
	info, _ := d.Info()
	if *length < 0 {
		*length = d.Length()
	}
	pad := total - d.PreSkip() - *length // samples trimmed at the end

	var seg bytes.Buffer
	infoBody := cat(
		uel(0x2AD7B1, 1000000),
		str(0x4D80, "mkwebm"), str(0x5741, "mkwebm"),
	)
	if !*unknown {
		infoBody = append(infoBody, el(0x4489, f64(float64(*length)*1000/48000))...)
	}
	seg.Write(el(0x1549A966, append(el(0xBF, crc(infoBody)), infoBody...)))
	seg.Write(el(0xEC, make([]byte, 16)))
	seg.Write(el(0x1654AE6B, el(0xAE, cat(
		uel(0xD7, 1), uel(0x73C5, 1), uel(0x83, 2), str(0x86, "A_OPUS"),
		el(0x63A2, info.Head.Marshal()),
		uel(0x56AA, uint64(d.PreSkip())*1000000000/48000), uel(0x56BB, 80000000),
		el(0xE1, cat(el(0xB5, f64(48000)), uel(0x9F, uint64(info.Head.Channels)))),
	))))
	if *title != "" || *artist != "" {
		seg.Write(tags(map[string]string{"TITLE": *title, "ARTIST": *artist}))
	}

	const perCluster = 25 // 0.5 s of 20 ms packets
	var start int64       // the sample of the cluster's first packet
	for c := 0; c < len(packets); c += perCluster {
		ps := packets[c:min(c+perCluster, len(packets))]
		body := uel(0xE7, uint64(start/48)) // ms
		if *unknown {
			body = append(body, el(0xEC, make([]byte, 3))...)
		}
		var at int64 // samples from the cluster's start
		for i := 0; i < len(ps); {
			k := min(*frames, len(ps)-i)
			lace := *lacing
			if lace == "ebml" {
				// a run of one size, up to k packets: fixed-size lacing
				r := 1
				for r < k && len(ps[i+r]) == len(ps[i]) {
					r++
				}
				if r > 1 {
					k, lace = r, "fixed"
				}
			}
			if lace == "none" {
				k = 1
			}
			last := c+i+k == len(packets)
			if last && k > 1 && pad > 0 {
				k-- // the padded packet goes in a BlockGroup of its own
				last = false
			}
			blk := block(ps[i:i+k], lace, at/48, last)
			if last && pad > 0 {
				body = append(body, el(0xA0, cat(el(0xA1, blk), iel(0x75A2, pad*1000000000/48000)))...)
			} else {
				body = append(body, el(0xA3, blk)...)
			}
			for _, p := range ps[i : i+k] {
				n, _ := opus.PacketSamples(p)
				at += n
			}
			i += k
		}
		if *unknown {
			seg.Write(unknownEl(0x1F43B675, body))
		} else {
			seg.Write(el(0x1F43B675, body))
		}
		start += at
	}
	if *unknown {
		seg.Write(tags(map[string]string{"ENCODER": "mkwebm"}))
	}

	var out bytes.Buffer
	out.Write(el(0x1A45DFA3, cat(
		uel(0x4286, 1), uel(0x42F7, 1), uel(0x42F2, 4), uel(0x42F3, 8),
		str(0x4282, "webm"), uel(0x4287, 4), uel(0x4285, 2),
	)))
	if *unknown {
		out.Write(unknownEl(0x18538067, seg.Bytes()))
	} else {
		out.Write(el(0x18538067, seg.Bytes()))
	}
	if err := os.WriteFile(flag.Arg(1), out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%s: %d packets, %d samples padded\n", flag.Arg(1), len(packets), pad)
}

// block is a SimpleBlock's or Block's data: track 1, the timestamp, the
// flags (keyframe for a SimpleBlock), the lacing and the frames.
func block(ps [][]byte, lace string, ts int64, simple bool) []byte {
	b := []byte{0x81, byte(ts >> 8), byte(ts), 0}
	if simple {
		b[3] = 0x80
	}
	if len(ps) == 1 {
		return append(b, ps[0]...)
	}
	b = append(b, byte(len(ps)-1))
	switch lace {
	case "xiph":
		b[3] |= 1 << 1
		for _, p := range ps[:len(ps)-1] {
			n := len(p)
			for ; n >= 255; n -= 255 {
				b = append(b, 255)
			}
			b = append(b, byte(n))
		}
	case "fixed":
		b[3] |= 2 << 1
	case "ebml":
		b[3] |= 3 << 1
		b = append(b, vint(uint64(len(ps[0])))...)
		for i := 1; i < len(ps)-1; i++ {
			b = append(b, svint(int64(len(ps[i])-len(ps[i-1])))...)
		}
	}
	for _, p := range ps {
		b = append(b, p...)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// el is an element with a known size.
func el(id uint32, data []byte) []byte {
	return cat(idBytes(id), vint(uint64(len(data))), data)
}

// unknownEl is an element whose size says unknown (all ones, 8 bytes).
func unknownEl(id uint32, data []byte) []byte {
	return cat(idBytes(id), []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, data)
}

func idBytes(id uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	i := 0
	for b[i] == 0 {
		i++
	}
	return b[i:]
}

// vint is the shortest variable-size integer for v.
func vint(v uint64) []byte {
	for n := 1; n <= 8; n++ {
		if v < 1<<(7*n)-1 {
			b := make([]byte, n)
			x := v | 1<<(7*n)
			for i := n - 1; i >= 0; i-- {
				b[i] = byte(x)
				x >>= 8
			}
			return b
		}
	}
	panic("vint too large")
}

// svint is a signed lace size difference: v plus the bias of its length.
func svint(v int64) []byte {
	for n := 1; n <= 8; n++ {
		bias := int64(1)<<(7*n-1) - 1
		if v > -bias && v <= bias {
			u := uint64(v+bias) | 1<<(7*n)
			b := make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				b[i] = byte(u)
				u >>= 8
			}
			return b
		}
	}
	panic("svint too large")
}

func uel(id uint32, v uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, v)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return el(id, b)
}

func iel(id uint32, v int64) []byte { return el(id, binary.BigEndian.AppendUint64(nil, uint64(v))) }

func str(id uint32, s string) []byte { return el(id, []byte(s)) }

func f64(v float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)) }

// crc is a CRC-32 element's data: the IEEE CRC of the data that follows
// it in its parent, little-endian.
func crc(data []byte) []byte { return binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data)) }

// tags is a Tags element with one Tag of the non-empty values, in name
// order.
func tags(kv map[string]string) []byte {
	var simple []byte
	for _, k := range []string{"TITLE", "ARTIST", "ENCODER"} {
		if v := kv[k]; v != "" {
			simple = append(simple, el(0x67C8, cat(str(0x45A3, k), str(0x4487, v)))...)
		}
	}
	return el(0x1254C367, el(0x7373, cat(el(0x63C0, uel(0x68CA, 50)), simple)))
}
