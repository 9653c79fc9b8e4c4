package mp3

import (
	"math"
	"sync"
)

// The polyphase synthesis filter bank (ISO 11172-3 2.4.3.2.2, Figure
// A.2): each time slot's 32 subband samples S are matrixed into 64 values
// V[i] = Σ S[k] cos((16 + i)(2k + 1)π/64), shifted into a 1024-value
// history, and 32 PCM samples are the sums of 16 of its values each,
// weighted by the window D of Table B.3.
//
// The matrixing is a 32-point DCT-II C[m] = Σ S[k] cos(π/32 m (k+½)),
// unfolded: V[i] = C[16+i] for i < 16, V[16] = 0, -C[48-i] up to 47,
// V[48] = -C[0], -C[i-48] above. The DCT-II is Lee's: an n-point one is
// an n/2-point one of sums and an n/2-point one of differences scaled by
// 1/(2cos(π(2i+1)/2n)), whose neighbouring outputs add up to the odd
// outputs.

// synthWindowHalf is the window D[i] of ISO 11172-3 Table B.3 for
// i <= 256. The rest follows by the table's symmetry: D[512-i] = -D[i],
// but for i a multiple of 64, where D[512-i] = D[i]. Every value is a
// multiple of 2^-16, printed to 9 decimals.
var synthWindowHalf = [257]float64{
	0.000000000, -0.000015259, -0.000015259, -0.000015259, -0.000015259, -0.000015259, -0.000015259, -0.000030518,
	-0.000030518, -0.000030518, -0.000030518, -0.000045776, -0.000045776, -0.000061035, -0.000061035, -0.000076294,
	-0.000076294, -0.000091553, -0.000106812, -0.000106812, -0.000122070, -0.000137329, -0.000152588, -0.000167847,
	-0.000198364, -0.000213623, -0.000244141, -0.000259399, -0.000289917, -0.000320435, -0.000366211, -0.000396729,
	-0.000442505, -0.000473022, -0.000534058, -0.000579834, -0.000625610, -0.000686646, -0.000747681, -0.000808716,
	-0.000885010, -0.000961304, -0.001037598, -0.001113892, -0.001205444, -0.001296997, -0.001388550, -0.001480103,
	-0.001586914, -0.001693726, -0.001785278, -0.001907349, -0.002014160, -0.002120972, -0.002243042, -0.002349854,
	-0.002456665, -0.002578735, -0.002685547, -0.002792358, -0.002899170, -0.002990723, -0.003082275, -0.003173828,
	0.003250122, 0.003326416, 0.003387451, 0.003433228, 0.003463745, 0.003479004, 0.003479004, 0.003463745,
	0.003417969, 0.003372192, 0.003280640, 0.003173828, 0.003051758, 0.002883911, 0.002700806, 0.002487183,
	0.002227783, 0.001937866, 0.001617432, 0.001266479, 0.000869751, 0.000442505, -0.000030518, -0.000549316,
	-0.001098633, -0.001693726, -0.002334595, -0.003005981, -0.003723145, -0.004486084, -0.005294800, -0.006118774,
	-0.007003784, -0.007919312, -0.008865356, -0.009841919, -0.010848999, -0.011886597, -0.012939453, -0.014022827,
	-0.015121460, -0.016235352, -0.017349243, -0.018463135, -0.019577026, -0.020690918, -0.021789551, -0.022857666,
	-0.023910522, -0.024932861, -0.025909424, -0.026840210, -0.027725220, -0.028533936, -0.029281616, -0.029937744,
	-0.030532837, -0.031005859, -0.031387329, -0.031661987, -0.031814575, -0.031845093, -0.031738281, -0.031478882,
	0.031082153, 0.030517578, 0.029785156, 0.028884888, 0.027801514, 0.026535034, 0.025085449, 0.023422241,
	0.021575928, 0.019531250, 0.017257690, 0.014801025, 0.012115479, 0.009231567, 0.006134033, 0.002822876,
	-0.000686646, -0.004394531, -0.008316040, -0.012420654, -0.016708374, -0.021179199, -0.025817871, -0.030609131,
	-0.035552979, -0.040634155, -0.045837402, -0.051132202, -0.056533813, -0.061996460, -0.067520142, -0.073059082,
	-0.078628540, -0.084182739, -0.089706421, -0.095169067, -0.100540161, -0.105819702, -0.110946655, -0.115921021,
	-0.120697021, -0.125259399, -0.129562378, -0.133590698, -0.137298584, -0.140670776, -0.143676758, -0.146255493,
	-0.148422241, -0.150115967, -0.151306152, -0.151962280, -0.152069092, -0.151596069, -0.150497437, -0.148773193,
	-0.146362305, -0.143264771, -0.139450073, -0.134887695, -0.129577637, -0.123474121, -0.116577148, -0.108856201,
	0.100311279, 0.090927124, 0.080688477, 0.069595337, 0.057617187, 0.044784546, 0.031082153, 0.016510010,
	0.001068115, -0.015228271, -0.032379150, -0.050354004, -0.069168091, -0.088775635, -0.109161377, -0.130310059,
	-0.152206421, -0.174789429, -0.198059082, -0.221984863, -0.246505737, -0.271591187, -0.297210693, -0.323318481,
	-0.349868774, -0.376800537, -0.404083252, -0.431655884, -0.459472656, -0.487472534, -0.515609741, -0.543823242,
	-0.572036743, -0.600219727, -0.628295898, -0.656219482, -0.683914185, -0.711318970, -0.738372803, -0.765029907,
	-0.791213989, -0.816864014, -0.841949463, -0.866363525, -0.890090942, -0.913055420, -0.935195923, -0.956481934,
	-0.976852417, -0.996246338, -1.014617920, -1.031936646, -1.048156738, -1.063217163, -1.077117920, -1.089782715,
	-1.101211548, -1.111373901, -1.120223999, -1.127746582, -1.133926392, -1.138763428, -1.142211914, -1.144287109,
	1.144989014,
}

var (
	synthOnce sync.Once
	// lee32 ... lee4 hold 1/(2cos(π(2i+1)/2n)), i < n/2, for the n-point
	// step of the DCT-II.
	lee32  [16]float32
	lee16  [8]float32
	lee8   [4]float32
	lee4   [2]float32
	lee2   float32
	synthD [512]float32
	// synthW is synthD arranged by output sample: synthW[j] holds the 16
	// coefficients that sample j of a time slot sums, in the order of
	// the V values they weigh (see synth.slot).
	synthW [32][16]float32
)

func initSynth() {
	synthOnce.Do(func() {
		lee := func(f []float32) {
			n := 2 * len(f)
			for i := range f {
				f[i] = float32(1 / (2 * math.Cos(math.Pi*float64(2*i+1)/float64(2*n))))
			}
		}
		lee(lee32[:])
		lee(lee16[:])
		lee(lee8[:])
		lee(lee4[:])
		lee2 = float32(1 / (2 * math.Cos(math.Pi/4)))
		for i, d := range synthWindowHalf {
			synthD[i] = float32(d)
			if i > 0 && i < 256 {
				if i%64 == 0 {
					synthD[512-i] = float32(d)
				} else {
					synthD[512-i] = float32(-d)
				}
			}
		}
		arrangeSynthWindow()
	})
}

// arrangeSynthWindow makes synthW from synthD.
func arrangeSynthWindow() {
	for j := range 32 {
		for i := range 8 {
			synthW[j][2*i] = synthD[64*i+j]
			synthW[j][2*i+1] = synthD[64*i+32+j]
		}
	}
}

// dct2 computes the DCT-II y[k] = Σ x[n] cos(π/n (n+½) k) of x in place,
// for len(x) a power of two up to 32 (tmp is not used: it is kept for
// the callers that give scratch space).
func dct2(x, tmp []float32) {
	switch len(x) {
	case 32:
		dct32((*[32]float32)(x))
	case 16:
		dct16((*[16]float32)(x))
	case 8:
		dct8((*[8]float32)(x))
	case 4:
		dct4((*[4]float32)(x))
	case 2:
		x[0], x[1] = x[0]+x[1], (x[0]-x[1])*lee2
	}
}

// dct32 is the 32-point DCT-II in place, by Lee's step: the 16-point
// DCT-II of the sums x[i] + x[31-i] gives the even outputs; that of the
// differences, scaled, gives the odd ones as sums of neighbours.
func dct32(x *[32]float32) {
	var lo, hi [16]float32
	for i := range 16 {
		a, b := x[i], x[31-i]
		lo[i] = a + b
		hi[i] = (a - b) * lee32[i]
	}
	dct16(&lo)
	dct16(&hi)
	for k := range 15 {
		x[2*k] = lo[k]
		x[2*k+1] = hi[k] + hi[k+1]
	}
	x[30] = lo[15]
	x[31] = hi[15]
}

// dct16 is the 16-point DCT-II in place (see dct32).
func dct16(x *[16]float32) {
	var lo, hi [8]float32
	for i := range 8 {
		a, b := x[i], x[15-i]
		lo[i] = a + b
		hi[i] = (a - b) * lee16[i]
	}
	dct8(&lo)
	dct8(&hi)
	for k := range 7 {
		x[2*k] = lo[k]
		x[2*k+1] = hi[k] + hi[k+1]
	}
	x[14] = lo[7]
	x[15] = hi[7]
}

// dct8 is the 8-point DCT-II in place (see dct32).
func dct8(x *[8]float32) {
	var lo, hi [4]float32
	for i := range 4 {
		a, b := x[i], x[7-i]
		lo[i] = a + b
		hi[i] = (a - b) * lee8[i]
	}
	dct4(&lo)
	dct4(&hi)
	x[0], x[1] = lo[0], hi[0]+hi[1]
	x[2], x[3] = lo[1], hi[1]+hi[2]
	x[4], x[5] = lo[2], hi[2]+hi[3]
	x[6], x[7] = lo[3], hi[3]
}

// dct4 is the 4-point DCT-II in place, written out.
func dct4(x *[4]float32) {
	a0, a1 := x[0]+x[3], x[1]+x[2]
	b0, b1 := (x[0]-x[3])*lee4[0], (x[1]-x[2])*lee4[1]
	e0, e1 := a0+a1, (a0-a1)*lee2
	o0, o1 := b0+b1, (b0-b1)*lee2
	x[0], x[1], x[2], x[3] = e0, o0+o1, e1, o1
}

// matrix computes V (64 values) of one time slot's subband samples s.
func matrix(s *[32]float32, v []float32) {
	c := *s
	dct32(&c)
	v = v[:64]
	for i := range 16 {
		v[i] = c[16+i]
	}
	v[16] = 0
	for i := 17; i < 48; i++ {
		v[i] = -c[48-i]
	}
	v[48] = -c[0]
	for i := 49; i < 64; i++ {
		v[i] = -c[i-48]
	}
}

// synth is one channel's synthesis filter bank state.
type synth struct {
	// v is the V history of the last 16 time slots, the newest 64 values
	// at off, each slot's written twice, 1024 values apart, so that the
	// 1024 from off on are the whole history in order.
	v   [2048]float32
	off int
}

// slot filters one time slot of 32 subband samples into 32 PCM samples,
// out[0], out[stride], ....
func (f *synth) slot(s *[32]float32, out []float32, stride int) {
	f.off = (f.off - 64) & 1023
	nv := (*[64]float32)(f.v[f.off : f.off+64])
	matrix(s, nv[:])
	copy(f.v[f.off+1024:f.off+1088], nv[:])
	// Sample j sums V[128i + j] and V[128i + 96 + j] of the history,
	// i < 8, weighted by D[64i + j] and D[64i + 32 + j].
	v := (*[1024]float32)(f.v[f.off : f.off+1024])
	_ = out[31*stride]
	for j := range 32 {
		d := &synthW[j]
		s0 := v[j]*d[0] + v[96+j]*d[1] + v[128+j]*d[2] + v[224+j]*d[3]
		s1 := v[256+j]*d[4] + v[352+j]*d[5] + v[384+j]*d[6] + v[480+j]*d[7]
		s2 := v[512+j]*d[8] + v[608+j]*d[9] + v[640+j]*d[10] + v[736+j]*d[11]
		s3 := v[768+j]*d[12] + v[864+j]*d[13] + v[896+j]*d[14] + v[992+j]*d[15]
		out[j*stride] = (s0 + s1) + (s2 + s3)
	}
}

// reset clears the filter's history.
func (f *synth) reset() { *f = synth{} }
