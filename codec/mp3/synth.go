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
	// synthK is synthW by coefficient: synthK[k][j] = synthW[j][k], the
	// 32 samples' k-th coefficients side by side, for the vector code.
	synthK [16][32]float32
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
	for j := range 32 {
		for k := range 16 {
			synthK[k][j] = synthW[j][k]
		}
	}
}

// dct32 computes the 32-point DCT-II y[k] = Σ x[n] cos(π/32 (n+½) k)
// in place: Lee's recursion written out. Each n-point step takes the
// sums x[i] + x[n-1-i], whose n/2-point DCT-II gives the even outputs,
// and the differences scaled by lee<n>, whose n/2-point DCT-II gives the
// odd outputs as sums of neighbours (the last one alone).
func dct32(x *[32]float32) {
	t1 := x[0] + x[31]
	t2 := (x[0] - x[31]) * lee32[0]
	t3 := x[1] + x[30]
	t4 := (x[1] - x[30]) * lee32[1]
	t5 := x[2] + x[29]
	t6 := (x[2] - x[29]) * lee32[2]
	t7 := x[3] + x[28]
	t8 := (x[3] - x[28]) * lee32[3]
	t9 := x[4] + x[27]
	t10 := (x[4] - x[27]) * lee32[4]
	t11 := x[5] + x[26]
	t12 := (x[5] - x[26]) * lee32[5]
	t13 := x[6] + x[25]
	t14 := (x[6] - x[25]) * lee32[6]
	t15 := x[7] + x[24]
	t16 := (x[7] - x[24]) * lee32[7]
	t17 := x[8] + x[23]
	t18 := (x[8] - x[23]) * lee32[8]
	t19 := x[9] + x[22]
	t20 := (x[9] - x[22]) * lee32[9]
	t21 := x[10] + x[21]
	t22 := (x[10] - x[21]) * lee32[10]
	t23 := x[11] + x[20]
	t24 := (x[11] - x[20]) * lee32[11]
	t25 := x[12] + x[19]
	t26 := (x[12] - x[19]) * lee32[12]
	t27 := x[13] + x[18]
	t28 := (x[13] - x[18]) * lee32[13]
	t29 := x[14] + x[17]
	t30 := (x[14] - x[17]) * lee32[14]
	t31 := x[15] + x[16]
	t32 := (x[15] - x[16]) * lee32[15]
	t33 := t1 + t31
	t34 := (t1 - t31) * lee16[0]
	t35 := t3 + t29
	t36 := (t3 - t29) * lee16[1]
	t37 := t5 + t27
	t38 := (t5 - t27) * lee16[2]
	t39 := t7 + t25
	t40 := (t7 - t25) * lee16[3]
	t41 := t9 + t23
	t42 := (t9 - t23) * lee16[4]
	t43 := t11 + t21
	t44 := (t11 - t21) * lee16[5]
	t45 := t13 + t19
	t46 := (t13 - t19) * lee16[6]
	t47 := t15 + t17
	t48 := (t15 - t17) * lee16[7]
	t49 := t33 + t47
	t50 := (t33 - t47) * lee8[0]
	t51 := t35 + t45
	t52 := (t35 - t45) * lee8[1]
	t53 := t37 + t43
	t54 := (t37 - t43) * lee8[2]
	t55 := t39 + t41
	t56 := (t39 - t41) * lee8[3]
	t57 := t49 + t55
	t58 := (t49 - t55) * lee4[0]
	t59 := t51 + t53
	t60 := (t51 - t53) * lee4[1]
	t61 := t57 + t59
	t62 := (t57 - t59) * lee2
	t63 := t58 + t60
	t64 := (t58 - t60) * lee2
	t65 := t63 + t64
	t66 := t50 + t56
	t67 := (t50 - t56) * lee4[0]
	t68 := t52 + t54
	t69 := (t52 - t54) * lee4[1]
	t70 := t66 + t68
	t71 := (t66 - t68) * lee2
	t72 := t67 + t69
	t73 := (t67 - t69) * lee2
	t74 := t72 + t73
	t75 := t70 + t74
	t76 := t74 + t71
	t77 := t71 + t73
	t78 := t34 + t48
	t79 := (t34 - t48) * lee8[0]
	t80 := t36 + t46
	t81 := (t36 - t46) * lee8[1]
	t82 := t38 + t44
	t83 := (t38 - t44) * lee8[2]
	t84 := t40 + t42
	t85 := (t40 - t42) * lee8[3]
	t86 := t78 + t84
	t87 := (t78 - t84) * lee4[0]
	t88 := t80 + t82
	t89 := (t80 - t82) * lee4[1]
	t90 := t86 + t88
	t91 := (t86 - t88) * lee2
	t92 := t87 + t89
	t93 := (t87 - t89) * lee2
	t94 := t92 + t93
	t95 := t79 + t85
	t96 := (t79 - t85) * lee4[0]
	t97 := t81 + t83
	t98 := (t81 - t83) * lee4[1]
	t99 := t95 + t97
	t100 := (t95 - t97) * lee2
	t101 := t96 + t98
	t102 := (t96 - t98) * lee2
	t103 := t101 + t102
	t104 := t99 + t103
	t105 := t103 + t100
	t106 := t100 + t102
	t107 := t90 + t104
	t108 := t104 + t94
	t109 := t94 + t105
	t110 := t105 + t91
	t111 := t91 + t106
	t112 := t106 + t93
	t113 := t93 + t102
	t114 := t2 + t32
	t115 := (t2 - t32) * lee16[0]
	t116 := t4 + t30
	t117 := (t4 - t30) * lee16[1]
	t118 := t6 + t28
	t119 := (t6 - t28) * lee16[2]
	t120 := t8 + t26
	t121 := (t8 - t26) * lee16[3]
	t122 := t10 + t24
	t123 := (t10 - t24) * lee16[4]
	t124 := t12 + t22
	t125 := (t12 - t22) * lee16[5]
	t126 := t14 + t20
	t127 := (t14 - t20) * lee16[6]
	t128 := t16 + t18
	t129 := (t16 - t18) * lee16[7]
	t130 := t114 + t128
	t131 := (t114 - t128) * lee8[0]
	t132 := t116 + t126
	t133 := (t116 - t126) * lee8[1]
	t134 := t118 + t124
	t135 := (t118 - t124) * lee8[2]
	t136 := t120 + t122
	t137 := (t120 - t122) * lee8[3]
	t138 := t130 + t136
	t139 := (t130 - t136) * lee4[0]
	t140 := t132 + t134
	t141 := (t132 - t134) * lee4[1]
	t142 := t138 + t140
	t143 := (t138 - t140) * lee2
	t144 := t139 + t141
	t145 := (t139 - t141) * lee2
	t146 := t144 + t145
	t147 := t131 + t137
	t148 := (t131 - t137) * lee4[0]
	t149 := t133 + t135
	t150 := (t133 - t135) * lee4[1]
	t151 := t147 + t149
	t152 := (t147 - t149) * lee2
	t153 := t148 + t150
	t154 := (t148 - t150) * lee2
	t155 := t153 + t154
	t156 := t151 + t155
	t157 := t155 + t152
	t158 := t152 + t154
	t159 := t115 + t129
	t160 := (t115 - t129) * lee8[0]
	t161 := t117 + t127
	t162 := (t117 - t127) * lee8[1]
	t163 := t119 + t125
	t164 := (t119 - t125) * lee8[2]
	t165 := t121 + t123
	t166 := (t121 - t123) * lee8[3]
	t167 := t159 + t165
	t168 := (t159 - t165) * lee4[0]
	t169 := t161 + t163
	t170 := (t161 - t163) * lee4[1]
	t171 := t167 + t169
	t172 := (t167 - t169) * lee2
	t173 := t168 + t170
	t174 := (t168 - t170) * lee2
	t175 := t173 + t174
	t176 := t160 + t166
	t177 := (t160 - t166) * lee4[0]
	t178 := t162 + t164
	t179 := (t162 - t164) * lee4[1]
	t180 := t176 + t178
	t181 := (t176 - t178) * lee2
	t182 := t177 + t179
	t183 := (t177 - t179) * lee2
	t184 := t182 + t183
	t185 := t180 + t184
	t186 := t184 + t181
	t187 := t181 + t183
	t188 := t171 + t185
	t189 := t185 + t175
	t190 := t175 + t186
	t191 := t186 + t172
	t192 := t172 + t187
	t193 := t187 + t174
	t194 := t174 + t183
	t195 := t142 + t188
	t196 := t188 + t156
	t197 := t156 + t189
	t198 := t189 + t146
	t199 := t146 + t190
	t200 := t190 + t157
	t201 := t157 + t191
	t202 := t191 + t143
	t203 := t143 + t192
	t204 := t192 + t158
	t205 := t158 + t193
	t206 := t193 + t145
	t207 := t145 + t194
	t208 := t194 + t154
	t209 := t154 + t183
	x[0] = t61
	x[1] = t195
	x[2] = t107
	x[3] = t196
	x[4] = t75
	x[5] = t197
	x[6] = t108
	x[7] = t198
	x[8] = t65
	x[9] = t199
	x[10] = t109
	x[11] = t200
	x[12] = t76
	x[13] = t201
	x[14] = t110
	x[15] = t202
	x[16] = t62
	x[17] = t203
	x[18] = t111
	x[19] = t204
	x[20] = t77
	x[21] = t205
	x[22] = t112
	x[23] = t206
	x[24] = t64
	x[25] = t207
	x[26] = t113
	x[27] = t208
	x[28] = t73
	x[29] = t209
	x[30] = t102
	x[31] = t183
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
	*(*[64]float32)(f.v[f.off+1024 : f.off+1088]) = *nv
	// Sample j sums V[128i + j] and V[128i + 96 + j] of the history,
	// i < 8, weighted by D[64i + j] and D[64i + 32 + j].
	v := (*[1024]float32)(f.v[f.off : f.off+1024])
	_ = out[31*stride]
	if useSynthVector {
		var o [32]float32
		synthWindowVector(v, &o)
		for j, x := range o {
			out[j*stride] = x
		}
		return
	}
	synthWindow(v, out, stride)
}

// synthWindow computes the 32 samples of a time slot from the V history v
// into out[0], out[stride], ...: sample j sums V[128i + j] and
// V[128i + 96 + j], i < 8, weighted by D[64i + j] and D[64i + 32 + j].
// synthWindowVector computes the same sums in the same order.
func synthWindow(v *[1024]float32, out []float32, stride int) {
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
