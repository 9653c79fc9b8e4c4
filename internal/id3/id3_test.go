package id3_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamcatcher/streamcatcher/internal/id3"
)

func TestTagSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		n    int64
		ok   bool
	}{
		{"empty tag", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), 10, true},
		{"size 0x201 synchsafe", []byte("ID3\x03\x00\x00\x00\x00\x04\x01"), 10 + 0x201, true},
		{"all size bits", []byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f"), 10 + 1<<28 - 1, true},
		{"with a footer", []byte("ID3\x04\x00\x10\x00\x00\x00\x05"), 10 + 5 + 10, true},
		{"not synchsafe", []byte("ID3\x04\x00\x00\x00\x00\x00\x80"), 0, false},
		{"short", []byte("ID3\x04\x00\x00\x00"), 0, false},
		{"no tag", []byte("fLaC\x00\x00\x00\x22\x00\x00"), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := id3.TagSize(tc.b)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.n, n)
		})
	}
}
