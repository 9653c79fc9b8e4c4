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
// after one round trip. The data is read through the blob's Stream
// (pipeline.BlobStreamer): ranges of 256 KiB, four at once ahead of the
// reader (WithReadAhead), each checked by the Library block by block
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
// The Store does not bound the bucket's size: a bucket shared by many
// processes is kept within bounds by the server's lifecycle rules (an
// expiry of the objects under the Store's prefix), which every S3
// server applies alone, with no race between processes; a track expired
// is encoded again by the next process that wants it. An expiry counts
// from an object's creation, not from its last read: a track still
// played is encoded again once it has expired. versitygw, on which the
// tests run, does not implement lifecycle rules (501), so this is not
// tested here.
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
