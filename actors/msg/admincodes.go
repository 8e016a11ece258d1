package msg

// Codes of the admin API (HTTP), like CodeNoSuchUser. WebSocket clients see only
// CodeNoHistory (HISTORY_LIST on a server without history); members fetching a recording by
// its signed URL may also get CodeNoSuchRecording.
const (
	// CodeNoSuchPeer answers a look-up of a media peer by an unknown server ufrag (HTTP 404).
	CodeNoSuchPeer Code = 2101
	// CodeNoHistory answers a history question to a server that keeps none (started without
	// a data directory; HTTP 404).
	CodeNoHistory Code = 2102
	// CodeNoSuchRecording answers a recording that does not exist (HTTP 404).
	CodeNoSuchRecording Code = 2103
	// CodeUnavailable reports that the server could not answer in time (HTTP 503), e.g. an
	// actor did not reply before the admin request's deadline.
	CodeUnavailable Code = 9001
)
