package loglevel

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		want   slog.Level
		wantOK bool
	}{
		{"", slog.LevelInfo, true},
		{"info", slog.LevelInfo, true},
		{" DEBUG ", slog.LevelDebug, true},
		{"Warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"warning", 0, false},
		{"trace", 0, false},
		{"0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestFilter: records below the level never reach the handler, also
// through loggers derived with With and WithGroup.
func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		min    slog.Level
		derive func(*slog.Logger) *slog.Logger
		want   []string
	}{
		{"info", slog.LevelInfo, func(l *slog.Logger) *slog.Logger { return l }, []string{"i", "w", "e"}},
		{"warn", slog.LevelWarn, func(l *slog.Logger) *slog.Logger { return l }, []string{"w", "e"}},
		{"debug", slog.LevelDebug, func(l *slog.Logger) *slog.Logger { return l }, []string{"d", "i", "w", "e"}},
		{"error, With", slog.LevelError, func(l *slog.Logger) *slog.Logger { return l.With("k", "v") }, []string{"e"}},
		{"warn, WithGroup", slog.LevelWarn, func(l *slog.Logger) *slog.Logger { return l.WithGroup("g") }, []string{"w", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			next := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			log := tt.derive(slog.New(Filter(next, tt.min)))
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if i := strings.Index(line, "msg="); i >= 0 {
					got = append(got, strings.Fields(line[i+len("msg="):])[0])
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("logged %v, want %v:\n%s", got, tt.want, buf.String())
			}
		})
	}
}
