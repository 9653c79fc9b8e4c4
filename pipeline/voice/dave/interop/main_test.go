package interop_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// daveyVersion is the version of @snazzah/davey that package-lock.json
// pins.
const daveyVersion = "0.1.12"

// nodeErr is why davey cannot run here, nil if it can; set by TestMain.
var nodeErr error

func TestMain(m *testing.M) {
	// Installing before m.Run keeps npm's time out of the -timeout.
	nodeErr = prepare()
	if nodeErr != nil {
		fmt.Fprintln(os.Stderr, "interop:", nodeErr)
	}
	goleak.VerifyTestMain(m)
}

// prepare checks for node and npm and installs davey with `npm ci` when
// node_modules does not hold the pinned version.
func prepare() error {
	if os.Getenv("STREAMCATCHER_NO_NODE") == "1" {
		return nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errNoNode
	}
	if installed() {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errNoNode
	}
	unlock, err := lockDir(".npm-ci.lock")
	if err != nil {
		return err
	}
	defer unlock()
	if installed() { // another test binary installed it meanwhile
		return nil
	}
	start := time.Now()
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", mustAbs("."), err, out)
	}
	fmt.Fprintf(os.Stderr, "interop: npm ci installed davey %s in %v\n", daveyVersion, time.Since(start).Round(time.Millisecond))
	return nil
}

var errNoNode = errors.New("node and npm are needed to run davey, the independent DAVE peer: " +
	"install Node.js 20 or later with npm (Debian: apt-get install nodejs npm; or https://nodejs.org), " +
	"or set STREAMCATCHER_NO_NODE=1 to skip these tests")

// installed reports whether node_modules holds the pinned davey.
func installed() bool {
	b, err := os.ReadFile(filepath.Join("node_modules", "@snazzah", "davey", "package.json"))
	return err == nil && strings.Contains(string(b), `"version": "`+daveyVersion+`"`)
}

// lockDir takes a lock by making the directory path, waiting while
// another process holds it; a lock older than ten minutes is stale (its
// holder died) and is taken over.
func lockDir(path string) (unlock func(), err error) {
	for {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > 10*time.Minute {
			os.Remove(path)
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// needNode fails the test if davey cannot run, or skips it, loudly, when
// STREAMCATCHER_NO_NODE=1.
func needNode(t *testing.T) {
	t.Helper()
	if os.Getenv("STREAMCATCHER_NO_NODE") == "1" {
		t.Skip("SKIPPED: STREAMCATCHER_NO_NODE=1: the interoperability tests against davey did not run")
	}
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
}
