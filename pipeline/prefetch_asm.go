//go:build gc && !purego && (amd64 || arm64)

package pipeline

// havePrefetch says that prefetchLines asks the processor for lines.
const havePrefetch = true

// prefetchLines asks the processor to bring the n cache lines from addr on
// (a line's start) into its caches. It never faults, whatever addr.
func prefetchLines(addr uintptr, n int)
