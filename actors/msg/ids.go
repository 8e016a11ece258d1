package msg

// IDPattern is the syntax of channel and user ids (docs/protocol.md, "Frames"), as a regular
// expression for places that report it (the REST API's 400 answers).
const IDPattern = `^[A-Za-z0-9_-]{1,64}$`

// MaxIDLen is the longest channel or user id.
const MaxIDLen = 64

// ValidID reports whether id matches IDPattern. It is a byte loop rather than a regexp
// because the gateway checks an id in every frame.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
