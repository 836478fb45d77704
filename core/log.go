package core

import (
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
