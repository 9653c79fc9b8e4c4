package webm

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the WebM and Matroska fixtures, whole and cut.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"prog.webm", "prog_mono_pipe.webm", "prog_laced.mka", "prog_xiph.webm",
		"prog_ebml.webm", "prog_unknownsize.webm", "prog_cut.webm", "prog_vorbis.webm"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b, b[:min(len(b), 600)])
	}
	return seeds
}
