//go:build !amd64 || purego

package mp3

// useSynthVector is false: there is no vector code for this architecture.
var useSynthVector = false

// synthWindowVector is synthWindow here.
func synthWindowVector(v *[1024]float32, out *[32]float32) { synthWindow(v, out[:], 1) }
