package bench_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// BenchmarkCodecWebMCopy frames a whole WebM Opus file an operation: its
// packets demuxed and put into a Framer, as a Track does, with nothing
// decoded or encoded (what `ffmpeg -c:a copy` does). container=ogg is the
// same for Ogg Opus. bench/codec.sh points CODEC_BENCH_WEBM and
// CODEC_BENCH_OGG at the files it gives ffmpeg.
func BenchmarkCodecWebMCopy(b *testing.B) {
	for _, c := range []struct {
		name, env, file string
		demuxer         func() framed.PacketSource
	}{
		{"webm", "CODEC_BENCH_WEBM", "prog.webm", func() framed.PacketSource { return webm.NewOpusDemuxer() }},
		{"ogg", "CODEC_BENCH_OGG", "prog.opus", func() framed.PacketSource { return ogg.NewOpusDemuxer() }},
	} {
		data := codecFile(b, c.env, c.file)
		b.Run("container="+c.name, func(b *testing.B) {
			frame := func() framed.Index {
				f := framed.NewFramer(c.demuxer())
				if _, err := io.Copy(io.Discard, catcher.NewTransformReader(bytes.NewReader(data), f)); err != nil {
					b.Fatal(err)
				}
				return f.Index()
			}
			secs := frame().Duration().Seconds()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				frame()
			}
			reportRealtime(b, secs)
		})
	}
}

// BenchmarkWebMFirstPacket is the time from opening a WebM Opus file to
// its track's first packet, read from a file and over loopback HTTP
// (pipeline.OpenHTTP on an http.ServeContent server), beside the same
// for an MP3, which is encoded.
func BenchmarkWebMFirstPacket(b *testing.B) {
	dir := b.TempDir()
	for _, f := range []struct{ name, file string }{{"webm", "prog.webm"}, {"mp3", "prog_48000.mp3"}} {
		data := codecFile(b, "", f.file)
		path := filepath.Join(dir, f.file)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, f.file, time.Time{}, bytes.NewReader(data))
		}))
		for _, src := range []struct {
			name string
			open func() io.Reader
		}{
			{"file", func() io.Reader { return pipeline.OpenFile(path) }},
			{"http", func() io.Reader { return pipeline.OpenHTTP(context.Background(), srv.URL) }},
		} {
			b.Run("input="+f.name+"/from="+src.name, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					tr, err := pipeline.NewTrack(src.open(), pipeline.WithPool(pipeline.NewPool(1)))
					if err != nil {
						b.Fatal(err)
					}
					firstPacket(b, tr)
					tr.Close()
				}
			})
		}
		srv.Close()
	}
}
