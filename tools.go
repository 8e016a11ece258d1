//go:build tools

// This file pins the project's dependencies in go.mod while the packages that use them are
// being written, so that parallel work does not fight over go.mod. It is never built.
package minilivechat

import (
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/chromedp/chromedp"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/labstack/echo/v4"
	_ "github.com/pion/dtls/v3"
	_ "github.com/pion/rtcp"
	_ "github.com/pion/rtp"
	_ "github.com/pion/sdp/v3"
	_ "github.com/pion/srtp/v3"
	_ "github.com/pion/stun/v3"
	_ "github.com/pion/webrtc/v4"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/net/ipv4"
	_ "nhooyr.io/websocket"
	_ "gopkg.in/yaml.v3"
)
