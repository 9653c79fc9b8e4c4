//go:build !purego && (amd64 || arm64)

package pipeline

// prefetchLines asks the processor to bring the n cache lines from addr on
// (a line's start) into its caches. It never faults, whatever addr.
//
//go:noescape
func prefetchLines(addr uintptr, n int)
