// Package loglevel reads LOG_LEVEL and filters slog records by it. It is a
// leaf (standard library only) so that a function which needs no part of
// pkg/oauth, functions/events, can filter its logs without linking the
// library and the SDK clients it imports. pkg/oauth exposes the same as
// oauth.ParseLogLevel and oauth.LevelFilter.
package loglevel

import (
	"context"
	"log/slog"
	"strings"
)

// Parse reads a LOG_LEVEL value: debug, info (also ""), warn or error, in
// any case and with surrounding spaces. ok is false for anything else.
func Parse(v string) (level slog.Level, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "info":
		return slog.LevelInfo, true
	case "debug":
		return slog.LevelDebug, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// Filter drops records below min before they reach next.
func Filter(next slog.Handler, min slog.Leveler) slog.Handler {
	return &filter{next, min}
}

type filter struct {
	slog.Handler
	min slog.Leveler
}

func (f *filter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min.Level() && f.Handler.Enabled(ctx, l)
}

func (f *filter) WithAttrs(as []slog.Attr) slog.Handler {
	return &filter{f.Handler.WithAttrs(as), f.min}
}

func (f *filter) WithGroup(name string) slog.Handler {
	return &filter{f.Handler.WithGroup(name), f.min}
}
