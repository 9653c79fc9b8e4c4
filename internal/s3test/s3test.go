// Package s3test runs a real S3 server for tests: versitygw, serving a
// temporary directory on loopback, as httptest runs an HTTP server.
//
// The server's binary is found or built once per machine: the path in
// $STREAMCATCHER_VERSITYGW if set, else the one in the user's cache
// folder (streamcatcher-tools/versitygw-<version>), else built there with
// `go install` from the module proxy. Test packages that run at once
// build it once: the build holds a lock file, and a binary is moved into
// place only whole. A package's TestMain calls Prepare, so that the build
// is done before its tests' -timeout runs. Each server is a process of its own, killed by its
// PID in the test's Cleanup (and, on Linux, by the kernel if the test
// process dies first), so that no server outlives its test.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests run.
const Version = "v1.8.0"

// The server's root credentials.
const (
	AccessKey = "streamcatcher"
	SecretKey = "streamcatcher-secret-key"
)

const module = "github.com/versity/versitygw/cmd/versitygw"

// Server is a versitygw process serving a temporary directory.
type Server struct {
	// Addr is the server's host:port on loopback.
	Addr string
	// Dir is the directory it serves: each bucket a folder, each object a
	// file.
	Dir string

	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed once the process has been waited for
}

var buildOnce struct {
	sync.Mutex // guards path
	path       string
}

// Binary returns the path of the versitygw binary, building it if no
// build is there yet (see Prepare). It fails the test if it can be
// neither found nor built.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := Prepare()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Prepare returns the path of the versitygw binary, building it if no
// build is there yet, and saying so on standard error with the time it
// took. A TestMain calls it before m.Run, so that a first build, minutes
// long, is not counted in the test binary's -timeout, which m.Run starts.
func Prepare() (string, error) {
	if p := os.Getenv("STREAMCATCHER_VERSITYGW"); p != "" {
		return p, nil
	}
	buildOnce.Lock()
	defer buildOnce.Unlock()
	if buildOnce.path != "" {
		return buildOnce.path, nil
	}
	dir, err := toolDir()
	if err != nil {
		return "", fmt.Errorf("s3test: %w", err)
	}
	path := filepath.Join(dir, "versitygw")
	if !isExecutable(path) {
		unlock, err := lockFile(filepath.Join(dir, ".lock"))
		if err != nil {
			return "", fmt.Errorf("s3test: %w", err)
		}
		defer unlock()
		if !isExecutable(path) { // another process may have built it meanwhile
			start := time.Now()
			if err := build(dir, path); err != nil {
				return "", fmt.Errorf("s3test: building versitygw %s: %w", Version, err)
			}
			fmt.Fprintf(os.Stderr, "s3test: built versitygw %s into %s in %v\n", Version, dir, time.Since(start).Round(time.Second))
		}
	}
	buildOnce.path = path
	return path, nil
}

// toolDir returns the folder of this version's binary, made if need be.
func toolDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "streamcatcher-tools", "versitygw-"+Version)
	return dir, os.MkdirAll(dir, 0o755)
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

// build installs versitygw into a temporary folder beside path, then
// moves the binary to path, so that a binary at path is whole.
func build(dir, path string) error {
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "install", module+"@"+Version)
	cmd.Dir = tmp // outside any module
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, out.Bytes())
	}
	return os.Rename(filepath.Join(tmp, "versitygw"), path)
}

// goTool returns the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); isExecutable(p) {
		return p
	}
	return "go"
}

// Start starts a server on a free loopback port, serving a new temporary
// directory, and waits until it answers. The test's Cleanup kills it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	var last error
	for range 3 { // a port taken between its choice and the server's bind
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		last = err
	}
	t.Fatalf("s3test: starting versitygw: %v", last)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	data, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{data, meta} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	s := &Server{Addr: addr, Dir: data, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey, "--quiet",
		"posix", "--sidecar", meta, data)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.Stop)
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w; its output:\n%s", err, s.stderr.String())
	}
	return s, nil
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until the server answers an HTTP request, whatever it
// answers (an anonymous request is refused), or it exits.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.exited:
			return errors.New("the server exited")
		default:
		}
		resp, err := client.Get("http://" + s.Addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %w", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID returns the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop kills the server by its PID and waits for it to exit. It is
// idempotent; Start's Cleanup calls it.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Exited reports whether the server's process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Endpoint returns the server's URL.
func (s *Server) Endpoint() string { return "http://" + s.Addr }

// Client returns a client of the server with its root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Addr, &minio.Options{
		Creds:  credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return c
}

// SetModTime sets the LastModified of the object of key in bucket, as
// the server reports it in listings and reads: the modification time of
// its file, which versitygw reads each time. A test that needs objects of
// given ages sets them so, rather than waiting for them to age.
func (s *Server) SetModTime(t testing.TB, bucket, key string, at time.Time) {
	t.Helper()
	path := filepath.Join(s.Dir, bucket, filepath.FromSlash(key))
	if err := os.Chtimes(path, time.Time{}, at); err != nil {
		t.Fatalf("s3test: setting the time of %s/%s: %v", bucket, key, err)
	}
}

// Bucket makes a new bucket of a name made from the test's, and returns
// the name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("s3test: making bucket %q: %v", name, err)
	}
	return name
}

var bucketSeq struct {
	sync.Mutex
	n int
}

// bucketName returns a valid bucket name (3 to 63 lower-case letters,
// digits and hyphens) from a test's name, unique in the process.
func bucketName(test string) string {
	bucketSeq.Lock()
	bucketSeq.n++
	n := bucketSeq.n
	bucketSeq.Unlock()
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	suffix := fmt.Sprintf("-%d", n)
	if len(name) > 63-len(suffix) {
		name = strings.Trim(name[:63-len(suffix)], "-")
	}
	if len(name) < 3 {
		name = "bucket" + name
	}
	return name + suffix
}

// syncBuffer is a bytes.Buffer safe for concurrent use: the process's
// output, read by a test meanwhile.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil // enough to say what went wrong
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
