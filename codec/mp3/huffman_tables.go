package mp3

import (
	"fmt"
	"sync"
)

// The Huffman codes of ISO 11172-3 Table B.7 (which ISO 13818-3 uses
// unchanged), each written as its code words (hcod) in the table's order.

// pairCodeText holds the code words of the big values tables by table
// number, x from 0, then y from 0; tables 16 to 23 share table 16's code
// words and 24 to 31 table 24's, with more linbits. pairSize is their
// values' range.
//
// The big values tables are not yet transcribed here: until they are, a
// granule with big values does not decode (errNoTable).
var pairCodeText = [25]string{}

var pairSize = [25]int{1: 2, 2: 3, 3: 3, 5: 4, 6: 4, 7: 6, 8: 6, 9: 6, 10: 8, 11: 8, 12: 8, 13: 16, 15: 16, 16: 16, 24: 16}

// pairLinbits is the number of linbits of each table_select.
var pairLinbits = [32]int{
	16: 1, 17: 2, 18: 3, 19: 4, 20: 6, 21: 8, 22: 10, 23: 13,
	24: 4, 25: 5, 26: 6, 27: 7, 28: 8, 29: 9, 30: 11, 31: 13,
}

// quadCodeText holds the code words of the count1 tables A and B, for
// the quadruples v, w, x, y (one bit each, v the highest) from 0000.
var quadCodeText = [2]string{
	"1 0101 0100 00101 0110 000101 00100 000100 0111 00011 00110 000000 00111 000010 000011 000001",
	"1111 1110 1101 1100 1011 1010 1001 1000 0111 0110 0101 0100 0011 0010 0001 0000",
}

// huffRoot is the width of the first lookup of the big values tables:
// most code words of the tables used most are shorter.
const huffRoot = 8

var (
	stdTablesOnce sync.Once
	stdTablesVal  *huffTables
)

// stdTables returns the Huffman tables of the standard, built once.
func stdTables() *huffTables {
	stdTablesOnce.Do(func() {
		ts, err := buildTables(pairCodeText, quadCodeText)
		if err != nil {
			panic(err) // the tables above are wrong: a test fails on it
		}
		stdTablesVal = ts
	})
	return stdTablesVal
}

// buildTables builds the lookup tables of the code words given as text,
// checking each is a complete prefix code. A pair table without text is
// left out.
func buildTables(pairs [25]string, quads [2]string) (*huffTables, error) {
	ts := &huffTables{linbits: pairLinbits}
	for n, text := range pairs {
		if text == "" {
			continue
		}
		codes, err := pairCodes(text, pairSize[n])
		if err != nil {
			return nil, fmt.Errorf("Huffman table %d: %w", n, err)
		}
		t, err := newHuffTable(codes, huffRoot)
		if err != nil {
			return nil, fmt.Errorf("Huffman table %d: %w", n, err)
		}
		switch n {
		case 16, 24:
			for k := n; k < n+8; k++ {
				ts.pairs[k] = t
			}
		default:
			ts.pairs[n] = t
		}
	}
	for k, text := range quads {
		codes, err := parseCodes(text)
		if err == nil && len(codes) != 16 {
			err = fmt.Errorf("%d code words", len(codes))
		}
		if err != nil {
			return nil, fmt.Errorf("count1 table %c: %w", 'A'+k, err)
		}
		t, err := newHuffTable(codes, 6)
		if err != nil {
			return nil, fmt.Errorf("count1 table %c: %w", 'A'+k, err)
		}
		ts.quads[k] = t
	}
	return ts, nil
}
