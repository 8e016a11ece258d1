package load

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
)

// The floor relay is the minimal relay any relay on this machine is measured against
// (docs/performance.md, "The floor"): one reader goroutine, ReadFromUDP, one AES-GCM SRTP
// open, N AES-GCM SRTP seals, and the whole fan-out in one sendmmsg. No floor control, no
// rewriting, no actors, no DTLS: keys come from a secret shared with the load tool. lcload
// runs it as a child process (`lcload floor-relay`) so that its CPU time is its own, with the
// same kind of listeners, rate and packet size as the lcserver windows it is compared with.

// Registration datagram: "LCFR", channel (uint16), member index (uint32; 0 = the talker).
const floorMagic = "LCFR"

// floorKeys derives the SRTP master key and salt of one member of one channel.
func floorKeys(secret []byte, ch uint16, idx uint32) (key, salt []byte) {
	var b [6]byte
	binary.BigEndian.PutUint16(b[:], ch)
	binary.BigEndian.PutUint32(b[2:], idx)
	k := sha256.Sum256(append(append([]byte("key"), secret...), b[:]...))
	s := sha256.Sum256(append(append([]byte("salt"), secret...), b[:]...))
	return k[:16], s[:12]
}

func floorContext(secret []byte, ch uint16, idx uint32, replay bool) (*srtp.Context, error) {
	key, salt := floorKeys(secret, ch, idx)
	var opts []srtp.ContextOption
	if replay {
		opts = append(opts, srtp.SRTPReplayProtection(replayWindow))
	}
	return srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm, opts...)
}

func floorRegistration(ch uint16, idx uint32) []byte {
	b := append([]byte(floorMagic), 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[4:], ch)
	binary.BigEndian.PutUint32(b[6:], idx)
	return b
}

type floorListener struct {
	addr *net.UDPAddr
	ctx  *srtp.Context
	hdr  rtp.Header
	buf  []byte
}

type floorChannel struct {
	listeners []*floorListener
	msgs      []ipv4.Message
}

// RunFloorRelay serves the floor relay on addr until ctx ends; ready gets the bound address.
func RunFloorRelay(ctx context.Context, addr string, secret []byte, ready func(netip.AddrPort)) error {
	if _, err := CheckLoopback(addr); err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		return fmt.Errorf("floor relay: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	ready(conn.LocalAddr().(*net.UDPAddr).AddrPort())
	pc := ipv4.NewPacketConn(conn)
	talkers := map[netip.AddrPort]*srtp.Context{}
	talkerCh := map[netip.AddrPort]uint16{}
	chans := map[uint16]*floorChannel{}
	in := make([]byte, 1500)
	plain := make([]byte, 1500)
	var hdr rtp.Header
	for {
		n, from, err := conn.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		b := in[:n]
		if n == 10 && string(b[:4]) == floorMagic {
			ch, idx := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[6:])
			c := chans[ch]
			if c == nil {
				c = &floorChannel{}
				chans[ch] = c
			}
			sctx, err := floorContext(secret, ch, idx, idx == 0)
			if err != nil {
				return err
			}
			if idx == 0 {
				talkers[from], talkerCh[from] = sctx, ch
			} else if !slices.ContainsFunc(c.listeners, func(l *floorListener) bool { return l.addr.AddrPort() == from }) {
				c.listeners = append(c.listeners, &floorListener{addr: net.UDPAddrFromAddrPort(from), ctx: sctx, buf: make([]byte, 0, 1600)})
				c.msgs = append(c.msgs, ipv4.Message{Buffers: [][]byte{nil}})
			}
			_, _ = conn.WriteToUDPAddrPort(b, from) // the acknowledgement; a repeated registration changes nothing
			continue
		}
		t := talkers[from]
		if t == nil || n < 12 || b[0]&0xc0 != 0x80 {
			continue
		}
		p, err := t.DecryptRTP(plain[:0], b, &hdr)
		if err != nil {
			continue
		}
		c := chans[talkerCh[from]]
		for i, l := range c.listeners {
			out, err := l.ctx.EncryptRTP(l.buf[:0], p, &hdr)
			if err != nil {
				continue
			}
			c.msgs[i].Buffers[0], c.msgs[i].Addr = out, l.addr
		}
		for off := 0; off < len(c.msgs); {
			k, err := pc.WriteBatch(c.msgs[off:], 0)
			if err != nil || k <= 0 {
				off++
				continue
			}
			off += k
		}
	}
}

// floorProcess is the floor relay run as a child process.
type floorProcess struct {
	addr netip.AddrPort
	pid  int
	cmd  *exec.Cmd
	done chan error
}

var floorLine = regexp.MustCompile(`floor relay listening on (\S+)`)

// spawnFloor starts command (lcload's own binary and its floor-relay subcommand) with the
// secret in LCLOAD_FLOOR_SECRET and waits for its address.
func spawnFloor(command []string, secret []byte) (*floorProcess, error) {
	cmd := exec.Command(command[0], append(command[1:], "--listen", "127.0.0.1:0")...)
	cmd.Env = append(os.Environ(), "LCLOAD_FLOOR_SECRET="+hex.EncodeToString(secret))
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor relay: %w", err)
	}
	p := &floorProcess{pid: cmd.Process.Pid, cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := floorLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
	}()
	select {
	case a := <-found:
		if p.addr, err = netip.ParseAddrPort(a); err != nil {
			p.stop()
			return nil, fmt.Errorf("floor relay address %q: %w", a, err)
		}
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("floor relay exited: %v", err)
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, errors.New("floor relay did not start within 10s")
	}
}

func (p *floorProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
