package visualizer

import "time"

// pacer keeps virtual time in step with the wall clock: at speed x, a wall
// second is x virtual seconds, unless a frame's work runs over its budget, in
// which case virtual time falls behind rather than the page freezing. Owned
// by the session's Run goroutine.
type pacer struct {
	paused   bool
	speed    float64
	lastWall time.Time
	// frame is how often the session advances; maxEvents bounds one frame's
	// events.
	frame     time.Duration
	maxEvents int
}

func (p *pacer) pause() { p.paused = true }

// resume starts virtual time again from now: the time spent paused is not owed.
func (p *pacer) resume(now time.Time) {
	p.paused = false
	p.lastWall = now
}

// elapsed is the wall time since the last frame, and whether virtual time
// runs (false while paused).
func (p *pacer) elapsed(now time.Time) (time.Duration, bool) {
	dt := now.Sub(p.lastWall)
	p.lastWall = now
	return dt, !p.paused
}

// overBudget says whether a frame that began at start and has gathered
// events events should stop: the page must get its frame on time.
func (p *pacer) overBudget(start time.Time, events, units int) bool {
	return events >= p.maxEvents || (units%256 == 255 && time.Since(start) > p.frame/2)
}
