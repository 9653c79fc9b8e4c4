// Package s3store keeps a pipeline.Library's finished encodings in a
// bucket of an S3-compatible object store (AWS S3, SeaweedFS, Ceph RGW,
// Garage, MinIO, versitygw), so that many processes, on many machines,
// share them: a track encoded by one is played by the others with no
// decoding or encoding. It is a package of its own so that a program that
// does not use it does not link an S3 client.
//
//	store, err := s3store.New("http://127.0.0.1:8333", "tracks",
//		s3store.WithCredentials(accessKey, secretKey))
//	lib := pipeline.NewLibrary(pipeline.WithStore(store))
//
// # Reads
//
// Open fetches a stored track's first 192 KiB with one ranged GET
// (WithHeadSize), which also tells the object's size and ETag: its
// header, index and checksums, and its first data block too for a track
// of some minutes, so that the Library serves the track's first packet
// after one round trip, and with no other request running: 192 KiB hold
// the parts before the data of a track of up to 10 minutes (4 bytes of
// index a packet of 20 ms, 48 KB for 4 minutes) and its first block of
// 64 KiB. The data is read through the blob's Stream
// (pipeline.BlobStreamer): first the bytes Open fetched, then ranges of
// 256 KiB, four at once ahead of the reader (WithReadAhead), begun at its
// second Read, once the first block has been served, each checked by the
// Library block by block
// against its checksum before a listener gets a byte of it. The Library
// reads a stored track ahead of the time since it loaded it
// (pipeline.WithStoreReadAhead: 10 s of packets by default), and at once
// for a player that waits (a Player's Seek past what is read), so that the ranges
// fetched stay that far, plus this read-ahead, ahead of the players, and
// a track left early is not fetched whole. A Player's Seek past what is
// read waits for the ranges before it: the track's cache is one stream
// from its first byte. A Queue's seek there does not: it is served from
// a second stream of the blob (Stream) that starts at the range of the
// target's block, each block checked as the cache's are, the ranges
// between the cache's and it not fetched, until the cache has passed the
// queue. Every read
// asks for the ETag of the opening (If-Match), so an object replaced or
// removed meanwhile is ErrChanged, never bytes of two objects.
//
// # Writes
//
// A blob is written when it is finished, never in place: one put for a
// blob of one part (16 MiB by default), else a multipart upload,
// completed by Commit, so that an object is whole or absent. Commit
// writes only if the key has no object (If-None-Match: *): of processes
// that finish one key at once, one object results, the first's, and the
// others keep it. A server without conditional writes (501) gets plain
// ones: the last writer wins, with a whole object. A multipart upload cut
// short by an error is aborted; one cut by a crash stays on the server,
// unseen as an object, until AbortStaleUploads or the bucket's lifecycle
// rule (AbortIncompleteMultipartUpload) removes it.
//
// # Faults
//
// Every request is tried up to five times (WithRetry), each try bounded
// by a timeout (WithRequestTimeout) that covers a stalled server, with a
// growing, jittered wait between tries; 500s, 503 SlowDown, refused,
// reset and cut connections are tried again. A request that fails every
// try is ErrUnavailable: the Library then encodes the track itself, and
// counts it (pipeline.LibraryStats.StoreErrors). A server that is down
// costs that wait once, not once a load: a request that failed every try
// opens the Store's breaker (WithBreaker), and every request then fails
// at once with ErrSuspended (and ErrUnavailable), so that loads encode at
// once, until a wait of 5 s has passed; then one request, tried once,
// probes the server: answered, the Store is used again; not, it is left
// alone twice as long, up to a minute (Stats: Trips, Probes, Suspended).
// A stored track whose
// reads fail after its first packets ends for its players after the
// packets they had, each checked: no listener hears a wrong byte.
//
// # Budget
//
// WithBudget keeps the Store's blobs within a byte budget, the least
// recently used removed first, as the DirStore does on its disk; every
// process that shares the bucket's prefix gives its Store the same one.
//
// A use is recorded in the bucket by an object of its own: the use
// marker of the blob called name, the empty object <prefix>.use/<name>,
// whose LastModified, the server's time, is the blob's last use. A Store
// puts it once a blob it opened has served its first bytes (not beside a
// track's first packet), and as it reads it (a blob read for an hour is
// used all that hour), at most once a minute a blob (WithBudgetTimes), on
// a goroutine of its own: no read waits for it. A
// blob's last use is the later of its marker's time and its own
// LastModified (its writing). Neither a shared index object nor the
// objects' metadata would do as well. An index (one object of names and
// times) is read, changed and written back by every process at every
// use: writes that must be conditional (If-Match) and retried, on one key
// that all processes contend for, and lost uses where a server has no
// conditional writes. Metadata cannot be changed in place in S3: a copy
// of the object onto itself rewrites it whole, and gives it a new ETag,
// which the readers that opened it would take for a replaced object
// (ErrChanged). A marker is one small put, independent of every other,
// whose last writer is right whoever it is (a use is a use), and its time
// is the server's, so that processes on machines whose clocks differ
// still order uses alike.
//
// A trim lists the Store's objects (ListObjectsV2, a page of 1,000 keys
// a request), sums the blobs' sizes, orders the blobs by last use, the
// oldest first (by name among those of one second, a listing's
// precision), and removes them in that order, each with its marker,
// until the sum is within the budget; it stops at the first blob used
// within the grace period (10 minutes by default), over the budget or
// not, so that a blob being read is not removed from under its readers
// (their reads mark it). It removes too the markers of blobs that are
// gone, once they are older than the grace period. A Store trims in the
// background after a Commit (one trim at a time, and at most one begun
// each mark interval on its clock: a Commit within the interval after a
// trim began asks for one at its end, which a Trim meanwhile does
// instead), and when Trim is called; Stats counts
// the marks, trims and evictions. Grace is measured on the Store's clock
// (WithClock) against the server's times: they must agree to within a
// fraction of it, as NTP keeps them.
//
// Many processes trim at once with no lock between them. Each trim
// removes a prefix of the blobs in the order of last use, as its own
// listing has them, the shortest that brings that listing's sum within
// the budget, and none used within the grace period. Two trims of one
// listing remove one set, and a remove of an object already removed is
// no error and changes nothing. A trim whose listing is later sees the
// bucket after some of the other's removes (a smaller sum: it removes
// fewer) or after new blobs (a larger sum, which the budget needs
// trimmed anyway). What is bounded is each trim alone: it removes only
// blobs past the grace period, and only as many bytes as bring its own
// listing within the budget (its excess, and less than one blob more). What is not bounded by the
// longest single prefix is the union of the trims whose listings order
// the blobs differently: a use between two listings moves a blob later
// in the order of the second only. If A, the oldest, is read and marked
// after one process lists the bucket and before another does, the first
// removes A and the second, seeing A used, removes B, the next oldest:
// both go, where one would have brought the bucket within the budget.
// Concurrent trims then remove up to the sum of their own prefixes, and
// a blob just used may be among them. The same holds of a use made
// between a trim's listing and its remove of a blob past the grace
// period (an Open of a blob no one had used for that long, in that
// moment), which no listing sees. A reader of a blob removed finds the
// object gone: its reads fail with ErrChanged after the packets it had,
// each checked, and the Library encodes the track again at its next
// load, as it does a track that was never stored.
//
// A use is an Open or a read of the bucket: a track a process keeps in
// its Library's memory and plays from there is not read, so not marked,
// and may be removed from the bucket meanwhile (the process still has
// it). The bucket's sum may pass the budget by what is committed between
// two trims, and by blobs used within the grace period.
//
// A bucket may instead be kept within bounds by the server's lifecycle
// rules (an expiry of the objects under the Store's prefix), with no
// budget here: every S3 server applies them alone, with no race between
// processes, but an expiry counts from an object's creation, not from its
// last use, so that a track still played is encoded again once it has
// expired. versitygw, on which the tests run, does not implement
// lifecycle rules (501), so that is not tested here.
//
// # The client
//
// The S3 client is github.com/minio/minio-go/v7: one module of a
// handful of small dependencies, not AWS-specific (path-style buckets,
// any endpoint), whose Core API exposes the calls this package needs one
// by one: ranged and conditional GETs, conditional puts
// (If-None-Match: *, on CompleteMultipartUpload too), and multipart
// uploads begun, filled, completed and aborted by the Store, which also
// does its own retries (the client's are turned off) so that they are
// the same for every request and counted (Stats). The AWS SDK's S3
// client does as much, in a dozen modules and much more code to link.
package s3store
