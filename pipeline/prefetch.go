package pipeline

import "unsafe"

// A shard's deadline reads a few cache lines of each of thousands of
// listeners (its Listener, and its Player or its Queue's hot allocation),
// one listener after the other. Each listener's first reads would wait for
// memory in turn, and the processor's own prefetchers do not follow a list
// of pointers: the shard asks for the lines of the listeners after the one
// it serves, so that they arrive while it serves it (a Player's packet
// took half the time; see bench/README.md, "Prefetching the next
// listeners"). A hint only: it changes no byte the shard reads.

// Prefetch distances, in listeners: the shard asks for the lines of the
// listener listenerAhead places on, for those of what the listener
// targetAhead places on drives, read from its Listener (asked for
// listenerAhead-targetAhead listeners before), and, if that is a queue
// with a command or a Close pending, for its cold lines coldAhead places
// on (the pending word and the cold pointer are among the queue's lines
// asked for before): a command's packet reads a dozen of them.
const (
	listenerAhead = 3
	targetAhead   = 2
	coldAhead     = 1
)

// listenerHot is how many bytes from its start a Listener's packet reads
// (see Listener: its hot fields come first).
const listenerHot = unsafe.Offsetof(Listener{}.lateness) + unsafe.Offsetof(Listener{}.lateness.buckets) + 4*unsafe.Sizeof(Listener{}.lateness.buckets[0])

// prefetchAhead asks for the lines the shard will read for the listeners
// after ls[i]: ls[i+listenerAhead]'s own, what ls[i+targetAhead]
// drives, and the cold lines of ls[i+coldAhead]'s queue if a command is
// pending.
func prefetchAhead(ls []*Listener, i int) {
	if j := i + listenerAhead; j < len(ls) {
		prefetchSpan(unsafe.Pointer(ls[j]), listenerHot)
	}
	if j := i + targetAhead; j < len(ls) {
		p, n := ls[j].target()
		prefetchSpan(p, n)
	}
	if j := i + coldAhead; j < len(ls) {
		if q := ls[j].q; q != nil && q.pending.Load() != 0 {
			prefetchSpan(unsafe.Pointer(q.queueCold), unsafe.Sizeof(queueCold{}))
		}
	}
}

// target is where what l drives starts and how many bytes of it a packet
// reads: a Player, or its Queue's fields before the queue's listener (the
// steady fields, its player and the cold pointer). A second listener of a queue, outside
// it, gives the same: the queue it drives.
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
	a := uintptr(p)
	start := a &^ (cacheLineSize - 1)
	prefetchLines(start, int((a+n-start+cacheLineSize-1)/cacheLineSize))
}

// cacheLineSize is the line size prefetchLines steps by.
const cacheLineSize = 64
