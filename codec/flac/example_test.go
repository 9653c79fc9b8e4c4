package flac_test

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/flac"
)

// A FLAC file decoded whole, then from a sample by its seek table.
func Example() {
	data, err := os.ReadFile("../../testdata/tone1k_s16_48000_2.flac")
	if err != nil {
		panic(err)
	}
	d := flac.NewDecoder()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
	if err != nil {
		panic(err)
	}
	info := d.Info()
	fmt.Println(d.Format(), info.Length, "samples;", len(pcm)/d.Format().BytesPerFrame(), "decoded")

	r := bytes.NewReader(data)
	sd, first, err := flac.Seek(r, 10000)
	if err != nil {
		panic(err)
	}
	rest, err := io.ReadAll(catcher.NewTransformReader(r, sd))
	if err != nil {
		panic(err)
	}
	fmt.Println("from sample", first, "the same PCM:", bytes.Equal(rest, pcm[first*4:]))
	// Output:
	// 48000 Hz, 2 ch, s16le 12000 samples; 12000 decoded
	// from sample 9216 the same PCM: true
}
