package server

import (
	"context"
	"fmt"
	"log/slog"
)

// deadLetterHandler is the protoactor logger's handler. protoactor logs a message sent to a
// stopped actor ("[DeadLetter]") with the whole message as an attribute; such a message may
// be a late JOIN result carrying an SDP answer with its a=ice-pwd, or a media packet with its
// buffer. No secret may reach a log line (docs/security.md), so the message attribute is
// replaced by its Go type, which is all an operator needs to see what went astray.
type deadLetterHandler struct{ slog.Handler }

func (h deadLetterHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "[DeadLetter]" {
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "message" {
			a = slog.String("message_type", fmt.Sprintf("%T", a.Value.Any()))
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h deadLetterHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return deadLetterHandler{h.Handler.WithAttrs(as)}
}

func (h deadLetterHandler) WithGroup(name string) slog.Handler {
	return deadLetterHandler{h.Handler.WithGroup(name)}
}
