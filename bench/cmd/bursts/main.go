// Command bursts counts the bursts in Ogg Opus files as an independent
// decoder hears them: each file is decoded by ffmpeg (its own Opus
// decoder, to 32-bit float, so that nothing clips), cut into 10 ms
// windows, and a window whose peak is more than -over dB above -ref dBFS
// is a burst. The example's tracks are all at -6 dBFS, so with the
// defaults a burst is a window above -5 dBFS: what a click at a loop's
// seam looks like in the example's recordings (-record DIR).
//
//	go run ./examples/discordlike -record /tmp/rec
//	go run ./bench/cmd/bursts /tmp/rec/*.opus
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
)

func main() {
	ref := flag.Float64("ref", -6, "the tracks' peak, dBFS")
	over := flag.Float64("over", 1, "how far above it a window is a burst, dB")
	flag.Parse()
	limit := math.Pow(10, (*ref+*over)/20)
	bursts, files, worst := 0, 0, 0.0
	for _, f := range flag.Args() {
		n, peak, err := count(f, limit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bursts:", err)
			os.Exit(1)
		}
		files++
		bursts += n
		worst = max(worst, peak)
		if n > 0 {
			fmt.Printf("%s: %d bursts, peak %+.1f dBFS\n", f, n, 20*math.Log10(peak))
		}
	}
	fmt.Printf("%d files, %d bursts over %+.1f dBFS, loudest %+.1f dBFS\n", files, bursts, *ref+*over, 20*math.Log10(max(worst, 1e-9)))
}

// count decodes f with ffmpeg and returns its 10 ms windows above limit
// and its peak.
func count(f string, limit float64) (int, float64, error) {
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", f, "-f", "f32le", "-ac", "2", "-ar", "48000", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("ffmpeg %s: %v: %s", f, err, stderr.String())
	}
	b := out.Bytes()
	const window = 480 * 2 // 10 ms of stereo samples
	n, peak, wpeak := 0, 0.0, 0.0
	for i := 0; i+4 <= len(b); i += 4 {
		v := math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		wpeak = max(wpeak, v)
		if (i/4+1)%window == 0 {
			if wpeak > limit {
				n++
			}
			peak = max(peak, wpeak)
			wpeak = 0
		}
	}
	return n, max(peak, wpeak), nil
}
