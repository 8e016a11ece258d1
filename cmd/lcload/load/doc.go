// Package load drives load against a running lcserver over loopback and measures it: the
// signaling scenario (thousands of WebSocket sessions taking turns at the floor) and the media
// scenario (one talker per channel, many listeners, each listener a light DTLS-SRTP client that
// speaks the real protocol with one UDP socket and no pion/webrtc stack). cmd/lcload is its
// command line; cmd/lcserver/server's load test calls RunSignal too, so there is one
// implementation of each scenario.
//
// Every target must be a loopback address (127.0.0.0/8 or ::1): the scenarios refuse anything
// else, including an SDP answer whose candidate points elsewhere. Every run is bounded in
// count and time and stops by itself.
package load
