package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tonePackets encodes a second of a 1 kHz tone and returns its packets,
// with the encoder's pre-skip: packet i starts at position
// i*960 - preSkip, as a bot's label says.
func tonePackets(t *testing.T) ([][]byte, int64) {
	t.Helper()
	enc, err := libopus.NewEncoder(libopus.Format(2))
	require.NoError(t, err)
	src := bytes.NewReader(testutil.Tone(48000, 2, 48000, 1000, 0.5))
	var pkts [][]byte
	for {
		p, err := enc.NextPacket(src)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkts = append(pkts, bytes.Clone(p))
	}
	require.Greater(t, len(pkts), 50)
	return pkts, enc.PreSkip()
}

// heardFile is what a test reads back of an Ogg Opus stream.
type heardFile struct {
	head    ogg.OpusHead
	samples int64 // of the audio packets
	last    ogg.Packet
}

func readHeard(t *testing.T, b []byte) heardFile {
	t.Helper()
	r := ogg.NewReader(bytes.NewReader(b))
	var f heardFile
	for n := 0; ; n++ {
		p, err := r.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch n {
		case 0:
			f.head, err = ogg.ParseOpusHead(p.Data)
			require.NoError(t, err)
		case 1: // OpusTags
		default:
			d, err := opus.PacketSamples(p.Data)
			require.NoError(t, err)
			f.samples += d
		}
		f.last = p
	}
	return f
}

// heardCases are streams heard from a track's first packet, from its
// middle, and without labels.
func heardCases(preSkip int64) []struct {
	name     string
	from     int  // the first packet heard
	labelled bool // packets carry their label
	want     int64
} {
	return []struct {
		name     string
		from     int
		labelled bool
		want     int64
	}{
		{"from the track's start", 0, true, preSkip},
		{"joined mid-way", 10, true, joinPreSkip},
		{"unlabelled", 0, false, joinPreSkip},
	}
}

func labelAt(i int, preSkip int64, ok bool) label {
	if !ok {
		return label{}
	}
	return label{track: 0, pos: int64(i)*960 - preSkip, ok: true}
}

// TestRecordingPreSkip: a recording declares the pre-skip of what it
// heard (the track's own from its first packet, 80 ms from its middle),
// its granule positions count every packet heard, and so its length is
// that of the packets less the pre-skip, to the sample.
func TestRecordingPreSkip(t *testing.T) {
	pkts, preSkip := tonePackets(t)
	require.Equal(t, int64(libopus.PreSkip), preSkip)
	for _, tc := range heardCases(preSkip) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := newRecorder(dir, t.Errorf)("guild-1")
			require.NotNil(t, rec)
			var total int64
			for i := tc.from; i < len(pkts); i++ {
				rec.write(pkts[i], labelAt(i, preSkip, tc.labelled))
				d, err := opus.PacketSamples(pkts[i])
				require.NoError(t, err)
				total += d
			}
			rec.close()
			require.NoError(t, rec.err)
			b, err := os.ReadFile(filepath.Join(dir, "guild-1.opus"))
			require.NoError(t, err)

			f := readHeard(t, b)
			assert.Equal(t, uint16(tc.want), f.head.PreSkip, "pre-skip")
			assert.Equal(t, total, f.samples)
			assert.True(t, f.last.EOS)
			assert.Equal(t, total, f.last.Granule, "the granule positions count every packet heard")

			// The demuxer's length: what a player plays, to the sample.
			d := ogg.NewOpusDemuxer()
			src := bytes.NewReader(b)
			require.NoError(t, d.ReadHeaders(src))
			for {
				if _, err := d.NextPacket(src); err != nil {
					require.ErrorIs(t, err, io.EOF)
					break
				}
			}
			assert.Equal(t, total-tc.want, d.Length(), "length")

			t.Run("opusinfo", func(t *testing.T) {
				opusinfo(t, filepath.Join(dir, "guild-1.opus"))
			})
		})
	}
}

// TestRelayPreSkip: the live track a channel's relay feeds, whose head
// the HTTP stream sends its clients, declares the pre-skip of what the
// relay heard first.
func TestRelayPreSkip(t *testing.T) {
	pkts, preSkip := tonePackets(t)
	for _, tc := range heardCases(preSkip) {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			live, err := pipeline.NewTrack(pr, pipeline.WithLive(10*time.Second), pipeline.WithName("test (live)"))
			require.NoError(t, err)
			defer live.Close()
			in, quit := make(chan relayedPacket, len(pkts)), make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				relayOgg(pw, in, quit, "guild-1")
			}()
			for i := tc.from; i < len(pkts); i++ {
				in <- relayedPacket{pkts[i], labelAt(i, preSkip, tc.labelled)}
			}
			select {
			case <-live.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("the live track did not start")
			}
			head, ok := live.OpusHead()
			require.True(t, ok)
			assert.Equal(t, uint16(tc.want), head.PreSkip)
			assert.Equal(t, uint8(2), head.Channels)
			close(quit)
			<-done
		})
	}
}

// opusinfo checks the file with opus-tools' opusinfo, where it is
// installed: it must validate, without a warning of an implausible
// pre-skip.
func opusinfo(t *testing.T, path string) {
	bin, err := exec.LookPath("opusinfo")
	if err != nil {
		t.Skip("opusinfo (opus-tools) is not installed")
	}
	out, err := exec.Command(bin, path).CombinedOutput()
	require.NoError(t, err, "opusinfo:\n%s", out)
	assert.NotContains(t, string(out), "WARNING", "opusinfo:\n%s", out)
	assert.NotContains(t, string(out), "preskip")
}
