package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig describes an embedded NATS server: the one a test starts, or the one
// `lcserver --cluster-listen` runs inside the process so a single binary is a whole cluster
// of one (more nodes join it with --nats).
type ServerConfig struct {
	// Name is the server's name in NATS (monitoring, leaf links); default "lcserver".
	Name string
	// Listen is host:port for NATS clients; port 0 picks a free one. Default
	// "127.0.0.1:0": loopback unless the operator says otherwise.
	Listen string
	// Dir is where JetStream keeps its files. Required when JetStream is on.
	Dir string
	// JetStream enables JetStream (leases and the node registry need it somewhere in the
	// NATS network: a leaf site without it uses its hub's).
	JetStream bool
	// Domain is the JetStream domain; needed only when a leaf runs its own JetStream.
	Domain string
	// LeafListen, when set, is host:port where leaf servers of other sites connect.
	LeafListen string
	// LeafRemotes are nats-leaf URLs of hubs this server links to as a leaf node.
	LeafRemotes []string
	// ReadyTimeout bounds the wait for the server to accept clients; default 10 s.
	ReadyTimeout time.Duration
}

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	opts *server.Options
}

// StartServer starts an embedded NATS server and waits until it accepts clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.Name == "" {
		cfg.Name = "lcserver"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", cfg.Listen, err)
	}
	opts := &server.Options{
		ServerName:      cfg.Name,
		Host:            host,
		Port:            port,
		JetStream:       cfg.JetStream,
		JetStreamDomain: cfg.Domain,
		StoreDir:        cfg.Dir,
		NoSigs:          true, // the process owns its signals (graceful drain in lcserver)
		NoLog:           true,
	}
	if cfg.JetStream && cfg.Dir == "" {
		return nil, errors.New("nats: JetStream needs a store directory")
	}
	if cfg.LeafListen != "" {
		h, p, err := splitListen(cfg.LeafListen)
		if err != nil {
			return nil, fmt.Errorf("nats leaf listen %q: %w", cfg.LeafListen, err)
		}
		opts.LeafNode.Host, opts.LeafNode.Port = h, p
	}
	for _, r := range cfg.LeafRemotes {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("nats leaf remote %q: %w", r, err)
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: []*url.URL{u}})
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("nats server on %s not ready within %v", cfg.Listen, cfg.ReadyTimeout)
	}
	return &Server{ns: ns, opts: opts}, nil
}

// splitListen parses host:port; port 0 becomes NATS's "random port".
func splitListen(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not 0…65535", p)
	}
	if n == 0 {
		n = server.RANDOM_PORT
	}
	return h, n, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// LeafURL is the nats-leaf:// URL other sites' servers link to, or "" without LeafListen.
func (s *Server) LeafURL() string {
	if s.opts.LeafNode.Port <= 0 {
		return ""
	}
	return fmt.Sprintf("nats-leaf://%s", net.JoinHostPort(s.opts.LeafNode.Host, strconv.Itoa(s.opts.LeafNode.Port)))
}

// LeafConnections is the number of leaf links up (either direction).
func (s *Server) LeafConnections() int { return s.ns.NumLeafNodes() }

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
