//go:build !unix

package s3test

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// lockFile takes the lock at path by making the file, waiting while
// another process holds it; a lock older than the longest build is stale
// (its holder died) and is taken over. unlock gives it back.
func lockFile(path string) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > 30*time.Minute {
			os.Remove(path)
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
}
