package core

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"

	"time"
)

// NewLogger returns the logger goes uses by default: slog text to w, with
// coloured levels when w is a terminal.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	colour := isTerminal(w)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String(slog.TimeKey, a.Value.Time().Format("2006-01-02 15:04:05.000"))
			case slog.LevelKey:
				if colour {
					lv, _ := a.Value.Any().(slog.Level)
					return slog.String(slog.LevelKey, levelColour(lv)+lv.String()+"\x1b[0m")
				}
			}
			return a
		},
	}))
}

func levelColour(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "\x1b[31m"
	case l >= slog.LevelWarn:
		return "\x1b[33m"
	case l >= slog.LevelInfo:
		return "\x1b[32m"
	}
	return "\x1b[36m"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// logger returns the Goer's logger.
func (g *Goer) logger() *slog.Logger {
	if g.log != nil {
		return g.log
	}
	if g.Logger != nil {
		return g.Logger
	}
	if g.parent != nil {
		return g.parent.logger()
	}
	return slog.Default()
}

// warnLimited logs a warning at most once a second per Goer, for events a
// flood could repeat (refused connections, dropped datagrams).
func (g *Goer) warnLimited(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := g.lastWarn.Load()
	if now-last < int64(time.Second) || !g.lastWarn.CompareAndSwap(last, now) {
		return
	}
	g.logger().Warn(msg, args...)
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}

// Log returns the Goer's logger, for transports and protocols.
func (g *Goer) Log() *slog.Logger { return g.logger() }

// openLog sets up the Goer's logger: Logger when set, else slog text to
// stderr (coloured on a terminal) and, when LogFile is set, to that file
// too. GOES_LOG_LEVEL (debug, info, warn, error) sets the level; info by
// default.
func (g *Goer) openLog() error {
	if g.Logger != nil {
		g.log = g.Logger
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("GOES_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	var w io.Writer = os.Stderr
	if g.LogFile != "" {
		f, err := os.OpenFile(g.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("goes: open log file: %w", err)
		}
		g.logFile = f
		g.log = slog.New(teeHandler{NewLogger(os.Stderr, level).Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: level})})
		return nil
	}
	g.log = NewLogger(w, level)
	return nil
}

// teeHandler sends each record to two handlers.
type teeHandler [2]slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if e := h.Handle(ctx, r.Clone()); e != nil {
				err = e
			}
		}
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t[0].WithGroup(name), t[1].WithGroup(name)}
}
