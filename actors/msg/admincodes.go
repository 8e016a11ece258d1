package msg

// Codes beyond the protocol's table: the actors answer CodeNoHistory and CodeNoSuchRecording
// (like CodeNoSuchUser), and both the admin API and the web client's recording route report
// CodeUnavailable, so they live below both; the admin API's own codes are in package admin.
// WebSocket clients see only CodeNoHistory (HISTORY_LIST on a server without history); members
// fetching a recording by its signed URL may also get CodeNoSuchRecording.
const (
	// CodeNoHistory answers a history question to a server that keeps none (started without
	// a data directory; HTTP 404).
	CodeNoHistory Code = 2102
	// CodeNoSuchRecording answers a recording that does not exist (HTTP 404).
	CodeNoSuchRecording Code = 2103
	// CodeUnavailable reports that the server could not answer in time (HTTP 503), e.g. an
	// actor did not reply before the admin request's deadline.
	CodeUnavailable Code = 9001
)
