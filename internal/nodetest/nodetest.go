// Package nodetest runs the JavaScript peers of the interoperability
// tests: Install puts the npm packages a test folder pins in its
// node_modules (`npm ci` from its package-lock.json, once, under a lock
// that concurrent test binaries share), Need fails or skips a test that
// cannot run them, and Start runs a node script that the test drives
// with JSON lines on its standard input and output.
//
// A program that is not a test (an example driving discord.js) uses
// InstallIn, Locked and Command, which take no *testing.T.
//
// A machine needs node (20 or later) and npm with access to the npm
// registry. Without them the tests fail saying how to install them,
// unless STREAMCATCHER_NO_NODE=1 is set, which skips them, loudly; CI
// must not set it.
package nodetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ErrNoNode is Install's error on a machine without node or npm.
var ErrNoNode = errors.New("node and npm are needed to run the independent peers of the interoperability tests: " +
	"install Node.js 20 or later with npm (Debian: apt-get install nodejs npm; or https://nodejs.org), " +
	"or set STREAMCATCHER_NO_NODE=1 to skip these tests")

// Skipped reports whether STREAMCATCHER_NO_NODE=1 asks for the tests
// that need node to be skipped.
func Skipped() bool { return os.Getenv("STREAMCATCHER_NO_NODE") == "1" }

// Install makes sure that node runs here and that node_modules in the
// current directory (a test's package folder) holds each package of pins
// at its version, as package-lock.json pins them; if one is missing or
// another version, it runs `npm ci` there, under a lock, reporting on
// stderr how long it took. It is meant for TestMain, before m.Run, so
// that npm's time is not taken from the tests' -timeout. It returns nil
// at once when Skipped, and ErrNoNode without node or npm.
func Install(pins map[string]string) error {
	if Skipped() {
		return nil
	}
	return InstallIn(".", pins)
}

// InstallIn is Install for the folder dir, whatever the current
// directory, and whether or not Skipped: it makes sure that node runs
// and that dir's node_modules holds each package of pins at its version,
// running `npm ci` in dir, under a lock, when one is missing.
func InstallIn(dir string, pins map[string]string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return ErrNoNode
	}
	if installed(dir, pins) {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return ErrNoNode
	}
	unlock, err := lockDir(filepath.Join(dir, ".npm-ci.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(dir, pins) { // another test binary installed them meanwhile
		return nil
	}
	start := time.Now()
	npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	npm.Dir = dir
	out, err := npm.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", abs(dir), err, out)
	}
	if !installed(dir, pins) {
		return fmt.Errorf("npm ci in %s did not install %v: package-lock.json pins other versions", abs(dir), pins)
	}
	fmt.Fprintf(os.Stderr, "nodetest: npm ci in %s installed %v in %v\n", abs(dir), pins, time.Since(start).Round(time.Millisecond))
	return nil
}

// installed reports whether dir's node_modules holds every package of
// pins at its version.
func installed(dir string, pins map[string]string) bool {
	for name, version := range pins {
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(name), "package.json"))
		if err != nil {
			return false
		}
		var p struct{ Version string }
		if json.Unmarshal(b, &p) != nil || p.Version != version {
			return false
		}
	}
	return true
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

// Locked returns the versions at which dir's package-lock.json pins the
// packages names, for InstallIn.
func Locked(dir string, names ...string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]struct{ Version string }
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "package-lock.json"), err)
	}
	pins := make(map[string]string, len(names))
	for _, name := range names {
		p, ok := lock.Packages["node_modules/"+name]
		if !ok || p.Version == "" {
			return nil, fmt.Errorf("%s pins no version of %s", filepath.Join(dir, "package-lock.json"), name)
		}
		pins[name] = p.Version
	}
	return pins, nil
}

// Command returns the command that runs `node script` in dir, with env
// added to this process's environment, for a program to start and drive
// itself (Start is the tests').
func Command(dir, script string, env ...string) *exec.Cmd {
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// Need fails the test with installErr, Install's error, if there is
// one, or skips it, loudly, when Skipped.
func Need(t testing.TB, installErr error) {
	t.Helper()
	if Skipped() {
		t.Skip("SKIPPED: STREAMCATCHER_NO_NODE=1: the interoperability tests against node did not run")
	}
	if installErr != nil {
		t.Fatal(installErr)
	}
}

// Process is a node script run by Start. Its methods are for the test's
// goroutine; Lines may be read from any one goroutine.
type Process struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan []byte
	stderr string // the file the script's standard error goes to
}

// exitWait is how long the cleanup waits for a script to exit after its
// input is closed before killing it.
const exitWait = 30 * time.Second

// Start runs `node script` in the current directory, with env added to
// the test's environment, and ends it at the test's cleanup: it closes
// the script's standard input (the script must then exit), reads what
// remains of its output, kills it if it has not exited after 30 s, and
// fails the test if it exited with an error, showing its standard error.
func Start(t testing.TB, script string, env ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: script, cmd: exec.Command("node", script), lines: make(chan []byte, 8192)}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close() // the script has its own descriptor
	p.stderr = stderr.Name()
	p.cmd.Stderr = stderr
	p.in, err = p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			p.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		p.in.Close()
		kill := time.AfterFunc(exitWait, func() { p.cmd.Process.Kill() })
		defer kill.Stop()
		for range p.lines { // the reader ends at the end of the output
		}
		<-read
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("node %s: %v\n%s", script, err, p.Stderr())
		}
	})
	return p
}

// Send writes v as one JSON line to the script's standard input.
func (p *Process) Send(v any) {
	p.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("node %s: writing to it: %v\n%s", p.name, err, p.Stderr())
	}
}

// Lines gives the lines of the script's standard output, each a new
// slice; it is closed when the output ends.
func (p *Process) Lines() <-chan []byte { return p.lines }

// Next returns the next line of output, failing the test if the output
// ended or none came within limit.
func (p *Process) Next(limit time.Duration) []byte {
	p.t.Helper()
	line, ok := p.Within(limit)
	if !ok {
		p.t.Fatalf("node %s: no output within %v\n%s", p.name, limit, p.Stderr())
	}
	return line
}

// Within returns the next line of output, or false if none came within
// limit; it fails the test if the output ended.
func (p *Process) Within(limit time.Duration) ([]byte, bool) {
	p.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("node %s: its output ended\n%s", p.name, p.Stderr())
		}
		return line, true
	case <-timer.C:
		return nil, false
	}
}

// Stderr returns what the script wrote to its standard error so far.
func (p *Process) Stderr() string {
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
