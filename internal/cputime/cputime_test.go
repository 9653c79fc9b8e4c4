package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/cputime"
	"github.com/stretchr/testify/assert"
)

func TestUsedGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" {
		t.Skip("not measured on " + runtime.GOOS)
	}
	before := cputime.Used()
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++ // spin
	}
	assert.Greater(t, cputime.Used(), before, "after %d spins", x)
}
