//go:build purego || !(amd64 || arm64)

package pipeline

// prefetchLines does nothing where there is no prefetch instruction of
// ours (see prefetch_amd64.s).
func prefetchLines(addr uintptr, n int) {}
