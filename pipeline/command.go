package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// StderrLimit bounds how much of a command's standard error a
// CommandSource keeps: its last 8 KiB.
const StderrLimit = 8 << 10

// commandWaitDelay bounds how long the copy of a command's standard error,
// and its standard output, may go on after it exits (a child left behind
// that keeps the pipes open).
const commandWaitDelay = time.Second

// CommandSource is the standard output of a command (an ffmpeg or
// downloader pipeline, say) as an io.ReadCloser. The command is started by
// the first Read, not before, so that a Track made from it never blocks
// when it is created; it runs in a process group of its own, and Close
// kills the whole group, children included. Its standard error is kept,
// the last StderrLimit bytes of it, and quoted in the error when the
// command fails.
//
// Read follows io.Reader; at the end of the output it waits for the
// command to exit and returns io.EOF if it exited with status 0, else an
// error wrapping ErrCommand. A child the command leaves running in the
// background does not change that: if it keeps the standard error open,
// the copy of it ends the command's WaitDelay after the exit (the status
// still counts); if it keeps the standard output open, the process group
// is killed WaitDelay after the command was reaped, and the output is what
// was written until then. Read and Close may be called concurrently:
// Close kills the group, which ends a Read blocked on the output or on the
// exit, and returns once the command has been reaped.
type CommandSource struct {
	cmd *exec.Cmd

	mu      sync.Mutex // guards out, started, closed, err and exitErr
	out     *os.File   // the read end of the command's standard output
	started bool
	closed  bool
	err     error         // the end: io.EOF or why it failed; sticky
	exited  chan struct{} // closed by the reaper once the command is reaped
	exitErr error         // Wait's result, set before exited is closed
	stderr  tail

	// Closed when the output has ended (drained, by the reading
	// goroutine, once: see drain) and by Close (closing, under mu), so
	// that the reaper stops waiting for the end of the output.
	drained chan struct{}
	drain   sync.Once
	closing chan struct{}
}

// NewCommandSource returns a source of cmd's standard output. cmd must not
// have been started, and its Stdout must be nil; its Stderr, if nil, is
// kept by the source. It panics otherwise (a programmer's mistake).
func NewCommandSource(cmd *exec.Cmd) *CommandSource {
	if cmd.Process != nil || cmd.Stdout != nil {
		panic("pipeline: NewCommandSource needs a command not started, with no Stdout")
	}
	s := &CommandSource{cmd: cmd, exited: make(chan struct{}), drained: make(chan struct{}), closing: make(chan struct{})}
	if cmd.Stderr == nil {
		cmd.Stderr = &s.stderr
	}
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = commandWaitDelay
	}
	setProcessGroup(cmd)
	return s
}

// Read reads the command's output, starting the command on the first call.
func (s *CommandSource) Read(p []byte) (int, error) {
	out, err := s.start()
	if err != nil {
		return 0, err
	}
	n, err := out.Read(p)
	if err == nil {
		return n, nil
	}
	return n, s.end(err)
}

func (s *CommandSource) start() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return nil, s.err
	case s.closed:
		return nil, errSourceClosed
	case s.started:
		return s.out, nil
	}
	s.started = true
	// Our own pipe rather than StdoutPipe: Wait, run by the reaper, must
	// not close the read end while the output is still being read.
	pr, pw, err := os.Pipe()
	if err != nil {
		s.err = fmt.Errorf("%w: %s: %w", ErrCommand, s.name(), err)
		close(s.exited)
		return nil, s.err
	}
	s.cmd.Stdout = pw
	err = s.cmd.Start()
	pw.Close() // the command has its own copy
	if err != nil {
		pr.Close()
		s.err = fmt.Errorf("%w: %s: %w", ErrCommand, s.name(), err)
		close(s.exited)
		return nil, s.err
	}
	s.out = pr
	go func() {
		err := s.cmd.Wait()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(s.exited)
		s.afterExit()
	}()
	return pr, nil
}

// afterExit kills the command's process group if its output has not ended
// WaitDelay after the command was reaped: children it left in the
// background hold the pipe open, and the output is what was written
// before. It returns at once when the output ends or the source closes.
func (s *CommandSource) afterExit() {
	t := time.NewTimer(s.cmd.WaitDelay)
	defer t.Stop()
	select {
	case <-s.drained:
	case <-s.closing:
	case <-t.C:
		killGroup(s.cmd)
	}
}

// end waits for the command once its output has ended (or failed), with
// no lock held, and returns the stream's end.
func (s *CommandSource) end(readErr error) error {
	s.drain.Do(func() { close(s.drained) })
	<-s.exited
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
	case s.closed:
		s.err = errSourceClosed
	case s.exitErr != nil && !exitedCleanly(s.cmd, s.exitErr):
		s.err = fmt.Errorf("%w: %s: %w%s", ErrCommand, s.name(), s.exitErr, s.stderr.quote())
	case readErr != io.EOF:
		s.err = fmt.Errorf("%w: %s: reading its output: %w", ErrCommand, s.name(), readErr)
	default:
		s.err = io.EOF
	}
	return s.err
}

// exitedCleanly reports whether a command whose Wait returned err exited
// with status 0: err is nil, or exec.ErrWaitDelay, which says only that a
// child it left kept its standard error open past the WaitDelay.
func exitedCleanly(cmd *exec.Cmd, err error) bool {
	return err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success()
}

func (s *CommandSource) name() string {
	if len(s.cmd.Args) > 0 {
		return s.cmd.Args[0]
	}
	return s.cmd.Path
}

// Stderr returns what the command has written to its standard error so
// far (the last StderrLimit bytes), if the source keeps it.
func (s *CommandSource) Stderr() string { return s.stderr.String() }

// Close kills the command's process group, whether or not the command
// itself has exited (children it left behind are killed too), waits until
// it has been reaped, and closes the output. Later Reads return an error
// wrapping ErrClosed.
// It returns nil; later calls do nothing.
func (s *CommandSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	started := s.started && s.cmd.Process != nil
	out := s.out
	s.mu.Unlock()
	if !started {
		return nil
	}
	// The group's id is the command's pid, which is not reused while the
	// group has members; once it has none, the kill finds nothing.
	killGroup(s.cmd)
	<-s.exited
	out.Close()
	return nil
}

// tail keeps the last StderrLimit bytes written to it. It is safe for
// concurrent use (os/exec copies stderr on a goroutine of its own).
type tail struct {
	mu   sync.Mutex
	buf  []byte
	lost int64 // bytes dropped from the front
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - StderrLimit; over > 0 {
		t.lost += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// quote is the standard error kept, for an error message.
func (t *tail) quote() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.buf, []byte("?"))))
	if s == "" {
		return ""
	}
	if t.lost > 0 {
		return fmt.Sprintf("; stderr (last %d bytes): %q", len(t.buf), s)
	}
	return fmt.Sprintf("; stderr: %q", s)
}
