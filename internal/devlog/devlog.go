// Package devlog keeps the last lines a logger wrote, for the local dev
// server's console. Ring is an io.Writer: put it beside the real output with
// io.MultiWriter under a slog.JSONHandler, which writes each record as one
// line in one Write call.
package devlog

import (
	"bytes"
	"strings"
	"sync"
)

// DefaultLines is how many lines New keeps when asked for none.
const DefaultLines = 200

// MaxLineBytes bounds one kept line; longer lines are cut and marked.
const MaxLineBytes = 8 << 10

// Ring holds the most recent lines written to it. Safe for concurrent use.
type Ring struct {
	mu    sync.Mutex
	lines []string // circular, len == capacity once full
	next  int      // where the next line goes once full
	full  bool
	cap   int
}

// New returns a Ring keeping the last n lines (DefaultLines when n <= 0).
func New(n int) *Ring {
	if n <= 0 {
		n = DefaultLines
	}
	return &Ring{cap: n, lines: make([]string, 0, n)}
}

// Write keeps each line of p (a trailing newline ends a line, empty lines
// are dropped). It never fails, so it can come first in an io.MultiWriter.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for line := range bytes.SplitSeq(p, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s := string(line)
		if len(s) > MaxLineBytes {
			s = strings.ToValidUTF8(s[:MaxLineBytes], "") + " …(cut)"
		}
		r.add(s)
	}
	return len(p), nil
}

func (r *Ring) add(s string) {
	if !r.full {
		r.lines = append(r.lines, s)
		if len(r.lines) == r.cap {
			r.full = true
		}
		return
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % r.cap
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines))
	if r.full {
		out = append(out, r.lines[r.next:]...)
		out = append(out, r.lines[:r.next]...)
		return out
	}
	return append(out, r.lines...)
}
