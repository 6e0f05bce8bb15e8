package visualizer

import (
	"time"

	"github.com/gorilla/websocket"
)

// writeFrames is a viewer's writer, for both kinds of session: it writes the
// frames queued on send to conn, in order, and pings every pingPeriod, until
// a write fails or closed is closed. taken, if set, is told of each frame as
// it leaves the queue; caughtUp, if set, is called after each write and
// ends the loop by returning false.
func writeFrames(conn *websocket.Conn, send <-chan []byte, closed <-chan struct{}, taken func(frame []byte), caughtUp func() bool) {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case frame := <-send:
			if taken != nil {
				taken(frame)
			}
			_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return
			}
		case <-ping.C:
			_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-closed:
			return
		}
		if caughtUp != nil && !caughtUp() {
			return
		}
	}
}
