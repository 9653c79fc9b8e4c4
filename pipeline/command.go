package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// StderrLimit bounds how much of a command's standard error a
// CommandSource keeps: its last 8 KiB.
const StderrLimit = 8 << 10

// CommandSource is the standard output of a command (an ffmpeg or
// downloader pipeline, say) as an io.ReadCloser. The command is started by
// the first Read, not before, so that a Track made from it never blocks
// when it is created; it runs in a process group of its own, and Close
// kills the whole group. Its standard error is kept, the last StderrLimit
// bytes of it, and quoted in the error when the command fails.
//
// Read follows io.Reader; at the end of the output it waits for the
// command and returns io.EOF if it exited with status 0, else an error
// wrapping ErrCommand. Read and Close may be called concurrently (Close
// unblocks a Read).
type CommandSource struct {
	cmd *exec.Cmd

	mu      sync.Mutex // guards the fields below
	stdout  io.ReadCloser
	started bool
	closed  bool
	waited  bool
	err     error // the end: io.EOF or why it failed; sticky
	stderr  tail
}

// NewCommandSource returns a source of cmd's standard output. cmd must not
// have been started, and its Stdout must be nil; its Stderr, if nil, is
// kept by the source. It panics otherwise (a programmer's mistake).
func NewCommandSource(cmd *exec.Cmd) *CommandSource {
	if cmd.Process != nil || cmd.Stdout != nil {
		panic("pipeline: NewCommandSource needs a command not started, with no Stdout")
	}
	s := &CommandSource{cmd: cmd}
	if cmd.Stderr == nil {
		cmd.Stderr = &s.stderr
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

func (s *CommandSource) start() (io.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return nil, s.err
	case s.closed:
		return nil, ErrClosed
	case s.started:
		return s.stdout, nil
	}
	s.started = true
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		s.err = fmt.Errorf("%w: %v: %w", ErrCommand, s.cmd, err)
		return nil, s.err
	}
	if err := s.cmd.Start(); err != nil {
		s.err = fmt.Errorf("%w: %s: %w", ErrCommand, s.name(), err)
		return nil, s.err
	}
	s.stdout = out
	return out, nil
}

// end waits for the command once its output has ended (or failed) and
// returns the stream's end.
func (s *CommandSource) end(readErr error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		s.err = ErrClosed
		return s.err
	}
	werr := s.wait()
	switch {
	case werr != nil:
		s.err = fmt.Errorf("%w: %s: %w%s", ErrCommand, s.name(), werr, s.stderr.quote())
	case readErr != io.EOF:
		s.err = fmt.Errorf("%w: %s: reading its output: %w", ErrCommand, s.name(), readErr)
	default:
		s.err = io.EOF
	}
	return s.err
}

// wait reaps the command once. s.mu must be held.
func (s *CommandSource) wait() error {
	if s.waited {
		return nil
	}
	s.waited = true
	return s.cmd.Wait()
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

// Close kills the command's process group (if it was started and has not
// been waited for) and reaps the command. Later Reads return ErrClosed. It
// returns nil; later calls do nothing.
func (s *CommandSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started, waited := s.started && s.cmd.Process != nil, s.waited
	s.mu.Unlock()
	if !started || waited {
		return nil
	}
	killGroup(s.cmd)
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.wait() // killed: its status says so
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
