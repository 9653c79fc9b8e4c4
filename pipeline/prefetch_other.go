//go:build !gc || purego || !(amd64 || arm64)

package pipeline

// havePrefetch says that prefetchLines asks the processor for lines: not
// here, where there is no prefetch instruction of ours.
const havePrefetch = false

// prefetchLines does nothing (see prefetch_amd64.s).
func prefetchLines(addr uintptr, n int) {}
