package pipeline

import (
	"sync/atomic"
	"unsafe"
)

// A shard's deadline reads a few cache lines of each of thousands of
// listeners (its Listener, and its Player or its Queue's hot allocation),
// one listener after the other. Each listener's first reads would wait for
// memory in turn, and the processor's own prefetchers do not follow a list
// of pointers: the shard asks for the lines of the listeners after the one
// it serves, so that they arrive while it serves it (see bench/README.md,
// "Prefetching the next listeners"). A hint only: it changes no byte the
// shard reads.

// Prefetch distances, in listeners after the one served:
//   - listenerAhead: the Listener's lines a packet reads;
//   - targetAhead: what the Listener drives, at the address it holds
//     (its lines were asked for listenerAhead-targetAhead listeners
//     before);
//   - coldAhead: a queue's cold lines, when a command or a Close is
//     pending or its track is live (its pending word and cold pointer
//     are among the lines asked for at targetAhead).
const (
	listenerAhead = 3
	targetAhead   = 2
	coldAhead     = 1
)

// listenerHot is how many bytes from its start a Listener's packet reads
// (see Listener: those fields come first), but for the lateness bucket it
// counts in, which is not asked for: the bucket is written with a locked
// add, and a build that asked for its line ahead (for reading or for
// writing) was slower (see bench/README.md).
const listenerHot = unsafe.Offsetof(Listener{}.lateness) + unsafe.Offsetof(Listener{}.lateness.buckets)

// prefetchAhead asks, when the shard serves ls[i], for the lines of
// ls[i+listenerAhead]'s hot fields, of what ls[i+targetAhead] drives,
// and of ls[i+coldAhead]'s queue's cold fields if it has a command
// pending or a live track; nothing past the end of ls.
func prefetchAhead(ls []*Listener, i int) {
	if !havePrefetch && prefetchHook.Load() == nil {
		return
	}
	if j := i + listenerAhead; j < len(ls) {
		prefetchSpan(unsafe.Pointer(ls[j]), listenerHot)
	}
	if j := i + targetAhead; j < len(ls) {
		p, n := ls[j].target()
		prefetchSpan(p, n)
	}
	if j := i + coldAhead; j < len(ls) {
		if q := ls[j].q; q != nil && (q.pending.Load() != 0 || q.live.Load()) {
			prefetchSpan(unsafe.Pointer(q.queueCold), unsafe.Sizeof(queueCold{}))
		}
	}
}

// prefetchHook, if set, is told each span prefetchSpan asks for (a
// test's).
var prefetchHook atomic.Pointer[func(p unsafe.Pointer, n uintptr)]

// target is where what l drives starts and how many bytes of it a packet
// reads: a Player, or its Queue's fields before the queue's listener (the
// steady fields, its player and the cold pointer). A second listener of a
// queue, outside it, gives the same: the queue it drives.
func (l *Listener) target() (unsafe.Pointer, uintptr) {
	if q := l.q; q != nil {
		return unsafe.Pointer(q), unsafe.Offsetof(q.lis)
	}
	return unsafe.Pointer(l.p), unsafe.Sizeof(Player{})
}

// prefetchSpan asks for the cache lines of the n bytes at p.
func prefetchSpan(p unsafe.Pointer, n uintptr) {
	if p == nil || n == 0 {
		return
	}
	if h := prefetchHook.Load(); h != nil {
		(*h)(p, n)
	}
	a := uintptr(p)
	start := a &^ (cacheLineSize - 1)
	prefetchLines(start, int((a+n-start+cacheLineSize-1)/cacheLineSize))
}

// cacheLineSize is the line size prefetchLines steps by (the 64 of
// prefetch_amd64.s and prefetch_arm64.s).
const cacheLineSize = 64
