package s3store_test

import (
	"context"
	"log"
	"os"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// A Library whose encodings are kept in a bucket that every process of a
// bot shares: a SeaweedFS on the same network here (`weed server -s3`),
// or a cloud bucket with its endpoint ("https://s3.eu-central-1.amazonaws.com",
// "https://<account>.r2.cloudflarestorage.com"). The bucket must exist;
// a lifecycle rule on it bounds its size (see the package doc).
func Example() {
	store, err := s3store.New("http://seaweedfs:8333", "tracks",
		s3store.WithCredentials(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")),
		s3store.WithPrefix("encodings/"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	lib := pipeline.NewLibrary(pipeline.WithStore(store),
		pipeline.WithErrorLog(func(k pipeline.Key, err error) { log.Printf("%s: %v", k.Source, err) }))
	defer lib.Close()

	// Encoded here if no process has stored it yet, else read from the
	// bucket; if the bucket cannot be reached, encoded here all the same.
	p, err := lib.Play(context.Background(), pipeline.Key{Source: "https://example.com/song.mp3"})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	// Send p.Next()'s packets every 20 ms.
}
