package devlog

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestRingKeepsLastLines(t *testing.T) {
	tests := []struct {
		name   string
		cap    int
		writes []string
		want   []string
	}{
		{"empty", 3, nil, []string{}},
		{"under capacity", 3, []string{"a\n", "b\n"}, []string{"a", "b"}},
		{"exactly full", 3, []string{"a\n", "b\n", "c\n"}, []string{"a", "b", "c"}},
		{"wraps", 3, []string{"a\n", "b\n", "c\n", "d\n", "e\n"}, []string{"c", "d", "e"}},
		{"wraps twice", 2, []string{"a\n", "b\n", "c\n", "d\n", "e\n"}, []string{"d", "e"}},
		{"several lines in one write", 3, []string{"a\nb\nc\nd\n"}, []string{"b", "c", "d"}},
		{"no trailing newline, blank lines dropped", 3, []string{"a\n\n  \nb"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.cap)
			for _, w := range tt.writes {
				n, err := r.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if got := r.Lines(); !slices.Equal(got, tt.want) {
				t.Errorf("Lines() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRingDefaultCapacity(t *testing.T) {
	r := New(0)
	for i := range DefaultLines + 5 {
		fmt.Fprintf(r, "line %d\n", i)
	}
	got := r.Lines()
	if len(got) != DefaultLines {
		t.Fatalf("len(Lines()) = %d, want %d", len(got), DefaultLines)
	}
	if got[0] != "line 5" || got[len(got)-1] != fmt.Sprintf("line %d", DefaultLines+4) {
		t.Errorf("Lines() runs %q … %q, want line 5 … line %d", got[0], got[len(got)-1], DefaultLines+4)
	}
}

func TestRingCutsLongLines(t *testing.T) {
	r := New(2)
	fmt.Fprintln(r, strings.Repeat("é", MaxLineBytes)) // 2 bytes each
	got := r.Lines()[0]
	if !strings.HasSuffix(got, "…(cut)") {
		t.Errorf("long line not marked as cut: ends %q", got[len(got)-20:])
	}
	if len(got) > MaxLineBytes+len(" …(cut)") {
		t.Errorf("kept %d bytes, want at most %d", len(got), MaxLineBytes+len(" …(cut)"))
	}
	if !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("cut line is not valid UTF-8 from the start")
	}
}

// TestRingUnderSlog is the way the dev server uses it: a JSON handler writing
// to stderr and the ring at once, from many goroutines.
func TestRingUnderSlog(t *testing.T) {
	r := New(50)
	var stderr bytes.Buffer
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(r, &stderr), nil))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				log.Info("hello", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	lines := r.Lines()
	if len(lines) != 50 {
		t.Fatalf("kept %d lines, want 50", len(lines))
	}
	all := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if !slices.Equal(lines, all[len(all)-50:]) {
		t.Errorf("ring lines differ from the last 50 lines written to stderr")
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Errorf("line %q is not one whole JSON record", l)
		}
	}
}
