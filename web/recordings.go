package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minilivechat/minilivechat/actors/history"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// RecordingOptions is what the members' recording endpoint needs.
type RecordingOptions struct {
	// URLs checks the signed URLs that HISTORY_LIST hands to members.
	URLs *history.URLSigner
	// Lookup returns the file of burst id's recording: a *msg.Error with
	// msg.CodeNoSuchRecording when there is none.
	Lookup func(ctx context.Context, id int64) (path string, err error)
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// RecordingError is the JSON body of every refusal of GET /recordings/{id}.ogg, shaped like
// the admin API's errors (docs/history.md).
type RecordingError struct {
	Error string   `json:"error"`
	Code  msg.Code `json:"code"`
}

// RecordingHandler serves GET /recordings/{id}.ogg?user=&exp=&sig=: a burst's Ogg Opus file to
// whoever holds the URL a member got in a HISTORY_LIST answer, until it expires. The URL is the
// authorisation (an <audio> element cannot send a bearer token); it names one burst and one
// user, so it fetches nothing else. Range requests are served, so players can seek.
func RecordingHandler(o RecordingOptions) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			recordingFail(w, http.StatusMethodNotAllowed, msg.Errorf(4050, "method not allowed"))
			return
		}
		f := strings.TrimPrefix(r.URL.Path, "/recordings/")
		id, err := strconv.ParseInt(strings.TrimSuffix(f, ".ogg"), 10, 64)
		if err != nil || !strings.HasSuffix(f, ".ogg") || id <= 0 {
			recordingFail(w, http.StatusBadRequest, msg.Errorf(msg.CodeMalformed, "recording %q must be a burst id followed by .ogg", f))
			return
		}
		user, err := o.URLs.Verify(id, r.URL.Query(), o.Now())
		if err != nil {
			recordingFail(w, http.StatusForbidden, msg.Errorf(msg.CodeInvalidToken, "%v", err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		path, err := o.Lookup(ctx, id)
		if err != nil {
			var me *msg.Error
			switch {
			case errors.As(err, &me) && (me.Code == msg.CodeNoSuchRecording || me.Code == msg.CodeNoHistory):
				recordingFail(w, http.StatusNotFound, me)
			case errors.As(err, &me) && me.Code == msg.CodeUnavailable:
				recordingFail(w, http.StatusServiceUnavailable, me)
			default:
				o.Logger.Error("recording look-up failed", "burst_id", id, "err", err)
				recordingFail(w, http.StatusInternalServerError, msg.Errorf(msg.CodeInternal, "internal error"))
			}
			return
		}
		o.Logger.Debug("recording served to a member", "burst_id", id, "user_id", user)
		w.Header().Set("Content-Type", "audio/ogg")
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFile(w, r, path)
	})
}

func recordingFail(w http.ResponseWriter, status int, e *msg.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(RecordingError{Error: e.Reason, Code: e.Code})
}
