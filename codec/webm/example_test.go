package webm_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/webm"
)

// A WebM file's Opus packets read as they are, with its exact length, and
// read again from a Cluster near 2 s.
func Example() {
	data, err := os.ReadFile("../../testdata/prog.webm")
	if err != nil {
		panic(err)
	}
	d := webm.NewOpusDemuxer()
	src := bytes.NewReader(data)
	packets := 0
	for {
		_, err := d.NextPacket(src)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		packets++
	}
	info, _ := d.Info()
	fmt.Println(packets, "packets,", info.Head.Channels, "channels, pre-skip", d.PreSkip(), "and", d.Length(), "samples")

	r := bytes.NewReader(data)
	d, start, err := webm.Seek(r, 2*time.Second)
	if err != nil {
		panic(err)
	}
	rest := 0
	for {
		if _, err := d.NextPacket(r); err != nil {
			break
		}
		rest++
	}
	fmt.Printf("from %.2f s: %d packets\n", float64(start)/48000, rest)
	// Output:
	// 151 packets, 2 channels, pre-skip 312 and 144000 samples
	// from 1.48 s: 77 packets
}
