package mp3

// scaleBands are the scale factor band boundaries of a sampling rate:
// the first spectral line of each band and, last, the end (576 for long
// blocks; 192, the lines of one window, for short blocks). ISO 11172-3
// Table B.8, ISO 13818-3 Table B.2 (LSF), and MPEG-2.5's extension of it
// to 11.025, 12 and 8 kHz.
type scaleBands struct {
	long  [23]int
	short [14]int
}

var bandTable = [9]scaleBands{
	{ // 44.1 kHz
		long:  [23]int{0, 4, 8, 12, 16, 20, 24, 30, 36, 44, 52, 62, 74, 90, 110, 134, 162, 196, 238, 288, 342, 418, 576},
		short: [14]int{0, 4, 8, 12, 16, 22, 30, 40, 52, 66, 84, 106, 136, 192},
	},
	{ // 48 kHz
		long:  [23]int{0, 4, 8, 12, 16, 20, 24, 30, 36, 42, 50, 60, 72, 88, 106, 128, 156, 190, 230, 276, 330, 384, 576},
		short: [14]int{0, 4, 8, 12, 16, 22, 28, 38, 50, 64, 80, 100, 126, 192},
	},
	{ // 32 kHz
		long:  [23]int{0, 4, 8, 12, 16, 20, 24, 30, 36, 44, 54, 66, 82, 102, 126, 156, 194, 240, 296, 364, 448, 550, 576},
		short: [14]int{0, 4, 8, 12, 16, 22, 30, 42, 58, 78, 104, 138, 180, 192},
	},
	{ // 22.05 kHz
		long:  [23]int{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
		short: [14]int{0, 4, 8, 12, 18, 24, 32, 42, 56, 74, 100, 132, 174, 192},
	},
	{ // 24 kHz
		long:  [23]int{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 114, 136, 162, 194, 232, 278, 332, 394, 464, 540, 576},
		short: [14]int{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 136, 180, 192},
	},
	{ // 16 kHz
		long:  [23]int{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
		short: [14]int{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	},
	{ // 11.025 kHz
		long:  [23]int{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
		short: [14]int{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	},
	{ // 12 kHz
		long:  [23]int{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
		short: [14]int{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	},
	{ // 8 kHz
		long:  [23]int{0, 12, 24, 36, 48, 60, 72, 88, 108, 132, 160, 192, 232, 280, 336, 400, 476, 566, 568, 570, 572, 574, 576},
		short: [14]int{0, 8, 16, 24, 36, 52, 72, 96, 124, 160, 162, 164, 166, 192},
	},
}

// bandsFor returns the scale factor bands of a sampling rate.
func bandsFor(rate int) *scaleBands {
	switch rate {
	case 44100:
		return &bandTable[0]
	case 48000:
		return &bandTable[1]
	case 32000:
		return &bandTable[2]
	case 22050:
		return &bandTable[3]
	case 24000:
		return &bandTable[4]
	case 16000:
		return &bandTable[5]
	case 11025:
		return &bandTable[6]
	case 12000:
		return &bandTable[7]
	default:
		return &bandTable[8]
	}
}
