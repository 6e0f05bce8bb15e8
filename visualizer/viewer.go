package visualizer

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Connection timings, as in gorilla/websocket's chat example.
const (
	writeWait  = 10 * time.Second  // a write must finish within this
	pongWait   = 60 * time.Second  // the peer must answer a ping within this
	pingPeriod = pongWait * 9 / 10 // how often to ping
	sendQueue  = 256               // frames queued per viewer before it counts as slow
	sendBytes  = 1 << 20           // bytes queued per viewer before it counts as slow
	// socketBuffer caps the kernel's send buffer per viewer, so that a viewer
	// that stops reading is noticed within a megabyte or so.
	socketBuffer = 256 << 10
)

// Command rate limit, per viewer, counted in the session's frames rather
// than in wall time, so that it holds at any machine speed: a viewer may
// send commandBurst commands at once, and then one every creditEvery
// frames (about 7 a second at the default 33ms frame). Every command can
// make the session send every viewer a frame or two (the events so far, a
// new state after a seek or reset), so this is what keeps one viewer from
// multiplying everyone else's traffic; a viewer over its limit is simply
// not read until it has credit (TCP holds the rest back), so it costs the
// server nothing while it waits.
const (
	commandBurst = 20
	creditEvery  = 4
)

// viewer is one websocket connection watching a session: a reader goroutine
// that decodes commands, and a writer goroutine that sends the frames the
// session queues.
type viewer struct {
	conn    *websocket.Conn
	session *Session
	control bool
	send    chan []byte
	// stale is set by the session when the queue overflowed and was emptied;
	// once the writer has caught up it asks for a fresh state.
	stale       atomic.Bool
	resyncCount atomic.Int64
	// queued counts the bytes of the frames in send.
	queued    atomic.Int64
	closed    chan struct{}
	closeOnce sync.Once
	// credits holds the commands the viewer may send now: the reader takes
	// one per frame it reads; the session adds one every creditEvery frames.
	credits chan struct{}
}

func newViewer(conn *websocket.Conn, s *Session, control bool) *viewer {
	if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(socketBuffer) // best effort: the default only means more buffering
	}
	v := &viewer{conn: conn, session: s, control: control, send: make(chan []byte, sendQueue), closed: make(chan struct{}),
		credits: make(chan struct{}, commandBurst)}
	for range commandBurst {
		v.credits <- struct{}{}
	}
	return v
}

func (v *viewer) close() {
	v.closeOnce.Do(func() {
		close(v.closed)
		v.conn.Close()
	})
}

// serve runs the viewer until its connection ends.
func (v *viewer) serve() {
	select {
	case v.session.joins <- v:
	case <-v.session.done:
		v.close()
		return
	}
	go v.writeLoop()
	v.readLoop()
	v.close()
	select {
	case v.session.leaves <- v:
	case <-v.session.done:
	}
}

func (v *viewer) readLoop() {
	v.conn.SetReadLimit(MaxCommandBytes)
	_ = v.conn.SetReadDeadline(time.Now().Add(pongWait))
	v.conn.SetPongHandler(func(string) error { return v.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		kind, data, err := v.conn.ReadMessage()
		if err != nil {
			return // closed, too large, or timed out
		}
		select {
		case <-v.credits:
		case <-v.closed:
			return
		case <-v.session.done:
			return
		}
		if kind != websocket.TextMessage {
			v.reply(encode(errorFrame{Type: "error", Error: "send commands as text frames of JSON"}))
			continue
		}
		cmd, err := DecodeCommand(data)
		if err != nil {
			v.reply(encode(errorFrame{Type: "error", ID: cmd.ID, Op: cmd.Op, Error: err.Error()}))
			continue
		}
		select {
		case v.session.requests <- request{v: v, cmd: cmd}:
		case <-v.session.done:
			return
		case <-v.closed:
			return
		}
	}
}

// reply queues a frame from the reader itself (a malformed command's error),
// never waiting.
func (v *viewer) reply(frame []byte) {
	v.queued.Add(int64(len(frame)))
	select {
	case v.send <- frame:
	default:
		v.queued.Add(-int64(len(frame)))
	}
}

// writeLoop writes the viewer's frames (writeFrames), counting each out of
// queued as it leaves the queue; once it has caught up after the session
// dropped its frames, it asks for a fresh state.
func (v *viewer) writeLoop() {
	defer v.close()
	writeFrames(v.conn, v.send, v.closed,
		func(frame []byte) { v.queued.Add(-int64(len(frame))) },
		func() bool {
			if !v.stale.Load() || len(v.send) > 0 {
				return true
			}
			select {
			case v.session.resyncs <- v:
				return true
			case <-v.closed:
				return false
			case <-v.session.done:
				return false
			}
		})
}
