package opus_test

import (
	"fmt"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// A packet's duration and coding are in its first bytes.
func ExampleParsePacket() {
	pi, err := opus.ParsePacket([]byte(opus.SilenceFrame))
	if err != nil {
		panic(err)
	}
	fmt.Println(pi.TOC.Mode(), pi.TOC.Bandwidth(), pi.Frames, "frame,", opus.Duration(pi.Samples))
	// Output: CELT FB 1 frame, 20ms
}
