package wav_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/transform"
)

// PCM written as a WAV file and read back.
func Example() {
	f := transform.Format{Rate: 8000, Channels: 1, Encoding: transform.S16LE}
	var file bytes.Buffer
	w, err := wav.NewWriter(&file, f, wav.WithLength(4))
	if err != nil {
		panic(err)
	}
	w.Write([]byte{1, 0, 2, 0, 3, 0, 4, 0})
	if err := w.Close(); err != nil {
		panic(err)
	}

	d := wav.NewDecoder()
	pcm, err := io.ReadAll(catcher.NewTransformReader(&file, d))
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Format(), d.Length(), "frames:", pcm)
	// Output: 8000 Hz, 1 ch, s16le 4 frames: [1 0 2 0 3 0 4 0]
}
