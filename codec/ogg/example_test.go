package ogg_test

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// An Ogg Opus file read packet by packet and written back, byte for byte.
func Example() {
	orig, err := os.ReadFile("../../testdata/prog.opus")
	if err != nil {
		panic(err)
	}
	d := ogg.NewOpusDemuxer()
	src := bytes.NewReader(orig)
	var packets [][]byte
	for {
		p, err := d.NextPacket(src)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		packets = append(packets, bytes.Clone(p))
	}
	info, _ := d.Info()

	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, info.Head, info.Tags, ogg.WithSerial(1234))
	if err != nil {
		panic(err)
	}
	for _, p := range packets {
		w.WritePacket(p)
	}
	w.SetLength(d.Length())
	if err := w.Close(); err != nil {
		panic(err)
	}
	fmt.Println(len(packets), "packets,", d.Length(), "samples; the same file:", bytes.Equal(orig, out.Bytes()))
	// Output: 151 packets, 144000 samples; the same file: true
}
