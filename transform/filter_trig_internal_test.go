package transform

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFastTrig(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200000 {
		x := (rng.Float64()*2 - 1) * MaxDistortionParam
		if i < 1000 {
			x = float64(i-500) * math.Pi / 4 // the quadrants' edges
		}
		if d := math.Abs(fastSin(x) - math.Sin(x)); d > 1e-15 {
			t.Fatalf("sin(%v): got %v; want %v", x, fastSin(x), math.Sin(x))
		}
		if d := math.Abs(fastCos(x) - math.Cos(x)); d > 1e-15 {
			t.Fatalf("cos(%v): got %v; want %v", x, fastCos(x), math.Cos(x))
		}
		want := math.Tan(x)
		if d := math.Abs(fastTan(x) - want); d > 1e-15*max(1, want*want) {
			t.Fatalf("tan(%v): got %v; want %v", x, fastTan(x), want)
		}
	}
}
