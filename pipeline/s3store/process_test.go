package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// The second process of TestTwoProcesses is the test binary run again
// with these variables set.
const (
	helperEnv      = "S3STORE_TEST_HELPER" // "serve" or "race"
	helperEndpoint = "S3STORE_TEST_ENDPOINT"
	helperBucket   = "S3STORE_TEST_BUCKET"
	helperBarrier  = "S3STORE_TEST_BARRIER"
)

// raceKey is the key both processes encode at once.
var raceKey = pipeline.Key{Source: "long", Bitrate: 64000}

// report is what a process tells of its part.
type report struct {
	Packets   int
	Sum       string // of the packets, in order
	Encodes   int64
	DiskHits  int64
	Opens     int
	Uploads   int64
	Kept      int64
	Writes    int64
	StoreErrs int64
}

// sumOf hashes packets in order, each with its length.
func sumOf(packets [][]byte) string {
	h := sha256.New()
	for _, p := range packets {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// playKey loads key in a new Library on a new Store of the bucket, plays
// it whole and waits for its write if it encoded it: the work of either
// process. barrier, if set, makes the store's commits wait for the other
// process's.
func playKey(endpoint, bucket string, key pipeline.Key, barrier string) (report, error) {
	store, err := s3store.New(endpoint, bucket, s3store.WithCredentials(s3test.AccessKey, s3test.SecretKey),
		s3store.WithRetry(4, 10*time.Millisecond, 200*time.Millisecond), s3store.WithReadAhead(16<<10, 3))
	if err != nil {
		return report{}, err
	}
	defer store.Close()
	var ps pipeline.Store = store
	if barrier != "" {
		ps = barrierStore{Store: store, dir: barrier}
	}
	src := &sources{data: map[string][]byte{"long": noise(10)}}
	lib := pipeline.NewLibrary(pipeline.WithOpener(src.open), pipeline.WithStore(ps), rawPCM)
	defer lib.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := lib.Get(ctx, key)
	if err != nil {
		return report{}, err
	}
	defer h.Release()
	cur := h.Track().NewCursor()
	var packets [][]byte
	for {
		p, err := cur.NextContext(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return report{}, err
		}
		packets = append(packets, bytes.Clone(p.Data))
	}
	st := lib.Stats()
	for st.Encodes > 0 && st.Writes == 0 && ctx.Err() == nil { // its write, which comes after the track's end
		time.Sleep(5 * time.Millisecond)
		st = lib.Stats()
	}
	ss := store.Stats()
	return report{Packets: len(packets), Sum: sumOf(packets), Encodes: st.Encodes, DiskHits: st.DiskHits, Opens: src.count(),
		Uploads: ss.Uploads, Kept: ss.Kept, Writes: st.Writes, StoreErrs: st.StoreErrors}, ctx.Err()
}

// helperMain is the second process: it does what $S3STORE_TEST_HELPER
// says and prints its report as JSON.
func helperMain() int {
	key, barrier := longKey, ""
	if os.Getenv(helperEnv) == "race" {
		key, barrier = raceKey, os.Getenv(helperBarrier)
	}
	r, err := playKey(os.Getenv(helperEndpoint), os.Getenv(helperBucket), key, barrier)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// barrierStore is a Store whose commits wait until a commit of the other
// process is waiting too: both have encoded the key, not found in the
// store, and commit it at once.
type barrierStore struct {
	*s3store.Store
	dir string
}

func (s barrierStore) Create(ctx context.Context, name string) (pipeline.BlobWriter, error) {
	w, err := s.Store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return barrierWriter{BlobWriter: w, dir: s.dir}, nil
}

type barrierWriter struct {
	pipeline.BlobWriter
	dir string
}

func (w barrierWriter) Commit() error {
	if err := os.WriteFile(filepath.Join(w.dir, strconv.Itoa(os.Getpid())), nil, 0o644); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		entries, err := os.ReadDir(w.dir)
		if err != nil {
			return err
		}
		if len(entries) >= 2 {
			return w.BlobWriter.Commit()
		}
		if time.Now().After(deadline) {
			w.BlobWriter.Abort()
			return errors.New("the other process never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// helper runs the test binary again as the second process.
func helper(t *testing.T, ctx context.Context, mode, endpoint, bucket, barrier string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperEndpoint+"="+endpoint, helperBucket+"="+bucket, helperBarrier+"="+barrier)
	cmd.Stderr = os.Stderr
	return cmd
}

// Two processes share one bucket: the second plays a track the first
// encoded, with no encoding, the same packets; then both encode a new key
// at once, both commit it at once, and one object results, the first
// commit's, which the other keeps; a third Library plays it.
func TestTwoProcesses(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	want := stored(t, newStore(t, srv.Endpoint(), bucket), longKey)
	out, err := helper(t, ctx, "serve", srv.Endpoint(), bucket, "").Output()
	require.NoError(t, err)
	var r report
	require.NoError(t, json.Unmarshal(out, &r))
	t.Logf("second process: %+v", r)
	assert.Equal(t, len(want), r.Packets)
	assert.Equal(t, sumOf(want), r.Sum, "identical packets")
	assert.Zero(t, r.Encodes, "no encoding")
	assert.Zero(t, r.Opens, "the source not opened")
	assert.Equal(t, int64(1), r.DiskHits)

	barrier := t.TempDir()
	cmd := helper(t, ctx, "race", srv.Endpoint(), bucket, barrier)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Start())
	mine, err := playKey(srv.Endpoint(), bucket, raceKey, barrier)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait())
	var theirs report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &theirs))
	t.Logf("this process: %+v; the other: %+v", mine, theirs)
	assert.Equal(t, int64(1), mine.Encodes, "both encoded")
	assert.Equal(t, int64(1), theirs.Encodes, "both encoded")
	assert.Equal(t, mine.Sum, theirs.Sum, "the same encoding")
	assert.Equal(t, int64(1), mine.Uploads+theirs.Uploads, "one object written")
	assert.Equal(t, int64(1), mine.Kept+theirs.Kept, "the other kept")

	name := newStore(t, srv.Endpoint(), bucket).Key(raceKey.StoreName())
	n := 0
	for o := range srv.Client(t).ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: name}) {
		require.NoError(t, o.Err)
		n++
	}
	assert.Equal(t, 1, n, "one object")
	third, err := playKey(srv.Endpoint(), bucket, raceKey, "")
	require.NoError(t, err)
	assert.Zero(t, third.Encodes)
	assert.Equal(t, mine.Sum, third.Sum)
}
