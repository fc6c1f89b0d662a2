package cli

import (
	"bytes"
	"context"
	"io"
	"time"
)

// picture renders the current state of a watched object into buf; ok is false when
// there is nothing to show (deleted, or not seen yet), and the last picture stays.
type picture func(buf *bytes.Buffer) (ok bool, err error)

// redraw draws after every change seen by l, at most every minRedraw, and every second
// for the ages. A picture identical to the one on screen is skipped. On a terminal each
// picture replaces the last; elsewhere a blank line separates them. It returns when ctx
// ends (interrupt or timeout).
func redraw(ctx context.Context, out io.Writer, l *live, draw picture) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.start(ctx)
	select {
	case <-ctx.Done():
		return nil
	case <-l.synced:
	}

	clear := isTerminal(out)
	var last time.Time
	var shown []byte
	show := func() error {
		last = time.Now()
		var buf bytes.Buffer
		ok, err := draw(&buf)
		if err != nil || !ok || bytes.Equal(buf.Bytes(), shown) {
			return err
		}
		var prefix string
		switch {
		case clear:
			prefix = clearScreen
		case shown != nil:
			prefix = "\n"
		}
		shown = buf.Bytes()
		_, err = io.WriteString(out, prefix+string(shown))
		return err
	}
	if err := show(); err != nil {
		return err
	}
	ticker := time.NewTicker(refresh)
	defer ticker.Stop()
	var throttle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.changed:
			if wait := minRedraw - time.Since(last); wait > 0 {
				if throttle == nil {
					throttle = time.After(wait)
				}
				continue
			}
		case <-throttle:
			throttle = nil
		case <-ticker.C:
		}
		if err := show(); err != nil {
			return err
		}
	}
}

// withTimeout bounds ctx by seconds, when positive.
func withTimeout(ctx context.Context, seconds int) (context.Context, context.CancelFunc) {
	if seconds > 0 {
		return context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	}
	return context.WithCancel(ctx)
}
