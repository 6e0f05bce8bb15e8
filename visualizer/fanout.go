package visualizer

// fanout is the set of viewers watching a session, and the one way frames
// reach them. Sending never waits: a viewer that cannot keep up has its queue
// emptied and is marked stale, and is sent a fresh state once it has caught
// up (see viewer.writeLoop). So the cost of a frame to the session is O(1)
// per viewer, whatever any viewer does. Owned by the session's Run goroutine.
type fanout struct {
	viewers map[*viewer]bool
}

func newFanout() fanout { return fanout{viewers: map[*viewer]bool{}} }

func (f *fanout) join(v *viewer)          { f.viewers[v] = true }
func (f *fanout) leave(v *viewer)         { delete(f.viewers, v) }
func (f *fanout) watching(v *viewer) bool { return f.viewers[v] }
func (f *fanout) count() int              { return len(f.viewers) }

// closeAll ends every viewer's connection: the session is over.
func (f *fanout) closeAll() {
	for v := range f.viewers {
		v.close()
	}
}

// broadcast queues a frame for every viewer.
func (f *fanout) broadcast(frame []byte) {
	for v := range f.viewers {
		f.send(v, frame)
	}
}

// send queues a frame for a viewer without ever waiting. A viewer whose
// queue is full has its queue emptied and is marked stale: it gets no more
// frames until it has written what it had and asks for a fresh state.
func (f *fanout) send(v *viewer, frame []byte) {
	if v.stale.Load() {
		return
	}
	// A frame is queued if it fits, or if the queue is empty: a state frame
	// may be larger than the whole allowance.
	if q := v.queued.Load(); q == 0 || q+int64(len(frame)) <= sendBytes {
		v.queued.Add(int64(len(frame)))
		select {
		case v.send <- frame:
			return
		default:
			v.queued.Add(-int64(len(frame)))
		}
	}
	// Too much is waiting: drop it all, and resync the viewer once it has
	// caught up.
	v.stale.Store(true)
	v.resyncCount.Add(1)
	for {
		select {
		case fr := <-v.send:
			v.queued.Add(-int64(len(fr)))
			continue
		default:
		}
		break
	}
}
