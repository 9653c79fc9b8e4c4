//go:build !purego

package mp3

import "golang.org/x/sys/cpu"

// useSynthVector is set on machines with AVX (whose operating system
// saves its registers): the synthesis window runs in synthWindowVector.
var useSynthVector = cpu.X86.HasAVX

// synthWindowVector computes the 32 samples of a time slot from the V
// history v (see synth.slot) in AVX instructions (synth_amd64.s), to the
// bits of the Go code.
//
//go:noescape
func synthWindowVector(v *[1024]float32, out *[32]float32)
