//go:build ignore

// Command gen_huffman prints the code words of the big values Huffman
// tables of ISO 11172-3 Table B.7, as huffman_tables.go's pairCodeText
// writes them, recovered by probing go-mp3's decoder through its public
// API (see package internal/huffprobe):
//
//	go run gen_huffman.go [table ...]
//
// prints the tables named (by default 1 to 13, 15, 16 and 24; 16 and 24
// stand for 16 to 23 and 24 to 31, which share their code words).
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/streamcatcher/streamcatcher/codec/mp3/internal/huffprobe"
)

func main() {
	tables := []int{1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 24}
	if len(os.Args) > 1 {
		tables = tables[:0]
		for _, a := range os.Args[1:] {
			n, err := strconv.Atoi(a)
			if err != nil {
				fail(err)
			}
			tables = append(tables, n)
		}
	}
	p, err := huffprobe.New()
	if err != nil {
		fail(err)
	}
	for _, n := range tables {
		codes, err := p.Table(n)
		if err != nil {
			fail(err)
		}
		text, err := huffprobe.Text(codes, huffprobe.Size(codes))
		if err != nil {
			fail(err)
		}
		fmt.Printf("\t%d: `%s`,\n", n, text)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen_huffman:", err)
	os.Exit(1)
}
