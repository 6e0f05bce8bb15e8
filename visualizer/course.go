package visualizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"weak"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// course is the run a session shows: the cluster (a lab.Replayer, which
// applies the recorded commands again at their steps), the recording, and the
// timeline up to the horizon — the furthest point the run has reached. The
// session can stand anywhere on the course: at the horizon it is live; behind
// it, it shows the past exactly, and a command given there starts a new course
// (branch). Owned by the session's Run goroutine.
type course struct {
	opts lab.Options // the run's options; Sink is the course's own
	r    *lab.Replayer
	// history holds the timeline events up to the horizon, oldest dropped
	// past historyLimit.
	history      []raft.Event
	historyLimit int
	horizon      mark
	// batch gathers the events viewers have not been sent yet; quiet stops
	// it (while seeking, when viewers get a state instead).
	batch []raft.Event
	quiet bool
	// observe, if set, is shown every event (to check a recording as it
	// replays).
	observe func(*raft.Event)
	// rewinder keeps checkpoints, where seeks start (see seek).
	rewinder rewinder
	// seeking is the seek running off the session's goroutine, if any.
	seeking *seekJob
	// pageLog: see forViewers.
	pageLog []uint64
	// sent keys each message by its send event (see messages.go).
	sent sentMessages
	// proposed counts the bytes of the commands proposed on this course, which
	// every node keeps in its log: bounded by maxProposedBytes.
	proposed int
}

// timelineKinds are the events kept for the timeline of new viewers.
var timelineKinds = map[raft.EventKind]bool{
	raft.EvTerm: true, raft.EvRole: true, raft.EvVote: true, raft.EvCommit: true,
	raft.EvCrash: true, raft.EvRestart: true, raft.EvTimeout: true, raft.EvPartition: true,
	raft.EvNetwork: true, raft.EvPropose: true, raft.EvViolation: true, raft.EvNote: true,
}

// start builds a fresh cluster from its seed that will replay cmds.
func (c *course) start(opts lab.Options, cmds []raft.Event) error {
	opts.Sink = c.sink
	r, err := lab.NewReplayer(opts, cmds)
	if err != nil {
		return err
	}
	c.opts, c.r = opts, r
	c.batch = c.batch[:0]
	c.syncPageLog()
	return nil
}

// sink receives every event of the cluster.
func (c *course) sink(e *raft.Event) {
	c.sent.note(e)
	if c.observe != nil {
		c.observe(e)
	}
	before := c.notePageLog(e)
	if !c.quiet {
		c.batch = append(c.batch, forViewers(e, before))
	}
	c.pastHorizon(e)
}

// Events frames stay bounded like state frames: an event that appends more
// than logWindow entries to a log the page holds (a restarted server's log,
// restored from its storage, comes as one such event) goes to viewers as its
// newest logWindow entries, placed at their indexes; the page keeps the
// entries before them as holes, as it does a state frame's window, and asks
// for them with the log command when shown. Only an event that replaces
// nothing is cut: one that rewrites entries the page holds must carry them
// all, or the page would go on showing the old ones.
//
// pageLog holds each log's length as the viewers' pages have it: what the
// events sent so far make it, or the view's when a state frame was sent.

// notePageLog follows the length of each log as events change it, and
// reports the length before e.
func (c *course) notePageLog(e *raft.Event) (before uint64) {
	if int(e.Node) < 1 || int(e.Node) > len(c.pageLog) {
		return 0
	}
	l := &c.pageLog[e.Node-1]
	before = *l
	switch e.Kind {
	case raft.EvRestart:
		*l = 0
	case raft.EvLog:
		*l = e.Index - 1 + uint64(len(e.Entries))
	}
	return before
}

// forViewers returns e as viewers are sent it, given the length its log had
// on their pages before it (see pageLog).
func forViewers(e *raft.Event, before uint64) raft.Event {
	ev := *e
	if ev.Kind == raft.EvLog && len(ev.Entries) > logWindow && ev.Index >= 1 && before <= ev.Index-1 {
		cut := len(ev.Entries) - logWindow
		ev.Index += uint64(cut)
		ev.Entries = ev.Entries[cut:]
	}
	return ev
}

// syncPageLog takes the logs' lengths from the view: a state frame has just
// told (or will tell) every viewer the run as it stands.
func (c *course) syncPageLog() {
	nodes := c.r.Sim.View().Nodes
	c.pageLog = c.pageLog[:0]
	for _, n := range nodes {
		c.pageLog = append(c.pageLog, n.LastIndex())
	}
}

// pastHorizon moves the horizon to e if e is past it, and keeps it for the
// timeline.
func (c *course) pastHorizon(e *raft.Event) {
	if e.Seq > c.horizon.Seq {
		c.horizon = mark{Time: e.Time, Seq: e.Seq}
		if timelineKinds[e.Kind] {
			c.history = append(c.history, *e)
			if over := len(c.history) - c.historyLimit; over > 0 {
				c.history = slices.Delete(c.history, 0, over+c.historyLimit/10)
			}
		}
	}
}

func (c *course) sim() *lab.Sim { return c.r.Sim }

// live reports whether the run stands at its horizon, with nothing recorded
// ahead of it.
func (c *course) live() bool { return c.r.Sim.Seq() >= c.horizon.Seq && c.r.Future() == 0 }

// takeBatch returns the events gathered since the last call.
func (c *course) takeBatch() []raft.Event {
	b := c.batch
	c.batch = c.batch[:0]
	return b
}

// advance runs the cluster for d of virtual time, or until over says the
// frame has done enough (then virtual time falls behind).
func (c *course) advance(d time.Duration, over func(start time.Time, events, units int) bool) error {
	c.cancelSeek()
	target := c.r.Sim.Now() + d
	start := time.Now()
	for n := 0; ; n++ {
		ok, err := c.r.Advance(target)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			break
		}
		if over(start, len(c.batch), n) {
			return nil
		}
	}
	return c.r.RunUntil(target)
}

// step runs n events (fewer if the run has none left).
func (c *course) step(n int) error {
	c.cancelSeek()
	for range n {
		ok, err := c.r.StepEvent(lab.Forever)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}

// branch makes the run take a new course from here: the recorded future is
// forgotten, and the timeline's with it. It returns the branch frame to
// send, or nil if the run was live (nothing to forget).
func (c *course) branch() *branchFrame {
	c.cancelSeek()
	if c.live() {
		return nil
	}
	c.r.Branch()
	seq := c.r.Sim.Seq()
	c.history = slices.DeleteFunc(c.history, func(e raft.Event) bool { return e.Seq > seq })
	c.horizon = mark{Time: c.r.Sim.Now(), Seq: seq}
	c.rewinder.forget(c.r.Sim.Steps())
	return &branchFrame{Type: "branch", Seq: seq, Time: c.r.Sim.Now()}
}

// record adds the commands a control just applied — the command events in
// the batch newer than the recording — to the recording.
func (c *course) record(err error) error {
	c.cancelSeek()
	if err != nil {
		return err
	}
	last := c.lastRecorded()
	for _, e := range c.batch {
		if e.Kind.IsCommand() && e.Seq > last {
			c.r.Record(e)
		}
	}
	return nil
}

func (c *course) lastRecorded() uint64 {
	cmds := c.r.Commands()
	if len(cmds) == 0 {
		return 0
	}
	return cmds[len(cmds)-1].Seq
}

// maxProposedBytes bounds the commands proposed on one course: every node
// keeps each in its log, and every state frame carries every log, so without
// a bound one fast client could grow the server and every viewer's page
// without end. A reset starts a new course.
const maxProposedBytes = 256 << 10

// errTooManyProposals refuses a proposal past maxProposedBytes.
var errTooManyProposals = fmt.Errorf("this run has taken %d KiB of proposed commands, as much as one run keeps: reset the cluster to start a new run", maxProposedBytes>>10)

// allowProposal counts a proposal of n bytes against the course's bound.
func (c *course) allowProposal(n int) error {
	if c.proposed+n > maxProposedBytes {
		return errTooManyProposals
	}
	c.proposed += n
	return nil
}

// seekTarget is a point of the run to show: an event number (BySeq) or a
// virtual time.
type seekTarget struct {
	BySeq bool
	Seq   uint64
	Time  time.Duration
}

// Seeking runs off the session's goroutine. seek picks where to start — the
// latest checkpoint before the target, or the run as it stands now if that
// is nearer (checkpointed on the spot: its cost is the run's state, not its
// length), or the seed if the run cannot be checkpointed — and hands the
// rest to a goroutine of its own, on a replayer of its own, while the
// session goes on answering and sending frames. When that replayer stands at
// the target, the session takes it in place of its own, on its goroutine
// (post). A newer seek, a return to live, a step, a reset or any command
// that changes the run cancels a seek still running: its result would show a
// run the session has moved away from.

// seekJob is a seek running in its goroutine.
type seekJob struct {
	cancel context.CancelFunc
	// to is where the job's replayer must end up; sink is where its events
	// go (a job's own sink until the session takes the replayer).
	sink func(*raft.Event)
	// sent keys the messages of the job's run; beyond holds its events past
	// the horizon (a seek by time may run on past the horizon's event to
	// the end of its instant), which the course takes with the replayer.
	sent    sentMessages
	beyond  []raft.Event
	horizon mark
}

func (j *seekJob) note(e *raft.Event) {
	j.sent.note(e)
	if e.Seq > j.horizon.Seq {
		j.beyond = append(j.beyond, *e)
	}
}

// seekHook, if set (by tests), is called by a seek's goroutine before it
// runs: a test holds a seek there for as long as it likes.
var seekHook atomic.Pointer[func()]

// cancelSeek cancels the seek running, if any.
func (c *course) cancelSeek() {
	if c.seeking != nil {
		c.seeking.cancel()
		c.seeking = nil
	}
}

// seek starts showing the run as it was at the target (at most the horizon):
// the work runs off the session's goroutine, and done is called on it (by
// way of post) once the course stands there, or with the error that stopped
// the seek. A seek cancelled before it ends calls nothing.
func (c *course) seek(to seekTarget, post func(func()) bool, done func(error)) error {
	to.Seq, to.Time = min(to.Seq, c.horizon.Seq), min(to.Time, c.horizon.Time)
	return c.runOff(func(r *lab.Replayer, ctx context.Context) error {
		var err error
		if to.BySeq {
			err = r.RunUntilSeqContext(ctx, to.Seq)
		} else {
			err = runUntilContext(ctx, r, to.Time)
		}
		if err != nil {
			return fmt.Errorf("cannot show the run at %v: %w", describeTarget(to), err)
		}
		return nil
	}, to, post, done)
}

// runUntilContext is Replayer.RunUntil that stops when ctx is done.
func runUntilContext(ctx context.Context, r *lab.Replayer, t time.Duration) error {
	for n := 1; ; n++ {
		ok, err := r.Advance(t)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return r.RunUntil(t)
}

// runOff starts a job that brings a replayer of the recording to the point
// to (where run leaves it), from the best start, in a goroutine of its own.
func (c *course) runOff(run func(*lab.Replayer, context.Context) error, to seekTarget, post func(func()) bool, done func(error)) error {
	c.cancelSeek()
	cmds := c.r.Commands()
	cp, err := c.rewinder.start(c.r, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	job := &seekJob{cancel: cancel, horizon: c.horizon}
	job.sink = job.note
	c.seeking = job
	opts := c.opts
	opts.Sink = func(e *raft.Event) { job.sink(e) }
	go func() {
		defer cancel()
		if hook := seekHook.Load(); hook != nil {
			(*hook)()
		}
		var r *lab.Replayer
		var err error
		if cp != nil {
			r, err = cp.Resume(cmds, opts.Sink)
			if err == nil {
				job.sent.seed(r.Sim.InFlight())
			}
		} else {
			r, err = lab.NewReplayer(opts, cmds)
		}
		if err == nil {
			err = run(r, ctx)
		}
		if ctx.Err() != nil {
			return // cancelled: the session has moved on
		}
		post(func() {
			if c.seeking != job {
				return // cancelled meanwhile
			}
			c.seeking = nil
			if err == nil {
				c.take(job, r)
			}
			done(err)
		})
	}()
	return nil
}

// take makes the job's replayer the course's.
func (c *course) take(job *seekJob, r *lab.Replayer) {
	job.sink = c.sink
	c.r, c.sent = r, job.sent
	c.batch = c.batch[:0]
	c.syncPageLog()
	for i := range job.beyond {
		c.pastHorizon(&job.beyond[i])
	}
}

// toLive runs to the horizon and past every recorded command, off the
// session's goroutine like a seek, and calls done once there.
func (c *course) toLive(post func(func()) bool, done func(error)) error {
	if c.live() {
		c.cancelSeek()
		done(nil)
		return nil
	}
	horizon := c.horizon
	return c.runOff(func(r *lab.Replayer, ctx context.Context) error {
		if err := r.RunUntilSeqContext(ctx, horizon.Seq); err != nil {
			return err
		}
		for n := 1; r.Future() > 0; n++ {
			if ok, err := r.Advance(lab.Forever); err != nil || !ok {
				return err
			}
			if n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	}, seekTarget{BySeq: true, Seq: horizon.Seq}, post, done)
}

// reset starts a new course: a new cluster with nothing recorded.
func (c *course) reset(opts lab.Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	c.cancelSeek()
	if err := c.start(opts, nil); err != nil {
		return err
	}
	c.history, c.horizon, c.proposed = c.history[:0], mark{}, 0
	c.sent = sentMessages{}
	c.rewinder.forget(0)
	return nil
}

// rewinder keeps checkpoints of the run (lab.Checkpoint) every
// checkpointInterval units of work, so that a seek re-runs at most one
// interval: passed takes one when the run has gone an interval past the last;
// start picks where a seek begins; forget drops the checkpoints past a branch
// point (the future they belong to is gone).
//
// Memory is bounded by a budget, not by a count: each checkpoint knows the
// bytes its copy of the run holds (lab.Checkpoint.Bytes), and the rewinder
// keeps them all while their total stays within checkpointBudget. A run at
// top speed without proposals has a small state (tens of KiB), so an hour of
// it — some thousands of checkpoints — fits with room to spare, and a seek
// anywhere in it re-runs at most one interval. Only when the total goes over
// the budget (long logs: every checkpoint holds every log) does it thin them:
// it drops, one at a time, the checkpoint whose two neighbours are the
// closest (never the newest), until the total is back within the budget.
// Then the gaps, and so the work a seek re-runs, grow — evenly across the
// run, each at most twice the gap it replaces — instead of the memory.
type rewinder struct {
	cps []*lab.Checkpoint
	// bytes is the total of cps' Bytes.
	bytes int64
	// interval and budget are checkpointInterval and checkpointBudget,
	// unless a test set its own.
	interval uint64
	budget   int64
	// refused, once set, says why the run cannot be checkpointed (its
	// implementation holds what a copy cannot reproduce): seeks then re-run
	// from the seed, still off the session's goroutine.
	refused error
}

// checkpointInterval is the units of work between checkpoints: a seek re-runs
// at most this many (plus a frame's worth). 2^18 is 0.1 s of work on the
// 2-core machine that set it when idle (2.5M units/s) and 0.3 s when loaded
// (0.88M units/s; BenchmarkSeekAfterLongRun reports units/s). A checkpoint of
// a top-speed run without proposals holds about 11 KiB, so an hour stays
// within checkpointBudget at up to 1.6M units/s; a faster machine thins them
// late in the hour, to gaps of at most twice the interval, which it re-runs
// in proportionally less time.
var checkpointInterval uint64 = 1 << 18

// checkpointBudget is the memory all of a session's checkpoints may hold
// together, 256 MiB; past it the rewinder thins them (see rewinder).
const checkpointBudget int64 = 256 << 20

// maxRerun is the most units of work a seek to a point up to steps re-runs
// from the checkpoints kept (the widest gap between two, or from the seed to
// the first, or from the last to steps).
func (w *rewinder) maxRerun(steps uint64) uint64 {
	var last, widest uint64
	for _, cp := range w.cps {
		widest = max(widest, cp.Steps-last)
		last = cp.Steps
	}
	if steps > last {
		widest = max(widest, steps-last)
	}
	return widest
}

// start returns the checkpoint a seek to the target starts from, or nil
// for the seed. If the run as it stands (r) is before the target and past
// every checkpoint that is, it is checkpointed now and the seek starts there.
func (w *rewinder) start(r *lab.Replayer, to seekTarget) (*lab.Checkpoint, error) {
	before := func(seq uint64, t time.Duration) bool {
		// By event: strictly before, so that the seek ends on the unit of
		// work that emits the target, as a run from the seed does.
		if to.BySeq {
			return seq < to.Seq
		}
		return t <= to.Time
	}
	var best *lab.Checkpoint
	for _, cp := range w.cps {
		if before(cp.Seq, cp.Time) {
			best = cp
		}
	}
	s := r.Sim
	if w.refused == nil && before(s.Seq(), s.Now()) && (best == nil || s.Steps() > best.Steps) {
		cp, err := r.Checkpoint()
		if err != nil {
			w.refused = err
			return best, nil
		}
		return cp, nil
	}
	return best, nil
}

// passed is shown the run after each frame of advance, on the session's
// goroutine; it takes a checkpoint when one is due, and thins the
// checkpoints if they are over the budget.
func (w *rewinder) passed(r *lab.Replayer) {
	if w.refused != nil {
		return
	}
	if w.interval == 0 {
		w.interval = checkpointInterval
	}
	if w.budget == 0 {
		w.budget = checkpointBudget
	}
	last := uint64(0)
	if n := len(w.cps); n > 0 {
		last = w.cps[n-1].Steps
	}
	if r.Sim.Steps() < last+w.interval {
		return
	}
	cp, err := r.Checkpoint()
	if err != nil {
		w.refused = err
		return
	}
	w.cps = append(w.cps, cp)
	w.bytes += cp.Bytes
	w.thin()
}

// thin drops checkpoints until their total is within the budget: each time
// the one (never the newest) whose neighbours are closest, so that the gaps
// widen evenly.
func (w *rewinder) thin() {
	for w.bytes > w.budget && len(w.cps) > 1 {
		drop, gap := 0, uint64(0)
		for i := 0; i < len(w.cps)-1; i++ {
			prev := uint64(0)
			if i > 0 {
				prev = w.cps[i-1].Steps
			}
			if g := w.cps[i+1].Steps - prev; i == 0 || g < gap {
				drop, gap = i, g
			}
		}
		w.bytes -= w.cps[drop].Bytes
		w.cps = slices.Delete(w.cps, drop, drop+1)
	}
}

// forget drops the checkpoints taken after unit of work steps.
func (w *rewinder) forget(steps uint64) {
	n := len(w.cps)
	for n > 0 && w.cps[n-1].Steps > steps {
		n--
	}
	for _, cp := range w.cps[n:] {
		w.bytes -= cp.Bytes
	}
	clear(w.cps[n:])
	w.cps = w.cps[:n]
	if steps == 0 {
		w.refused = nil
	}
}

func describeTarget(to seekTarget) string {
	if to.BySeq {
		return fmt.Sprintf("event %d", to.Seq)
	}
	return to.Time.String()
}

var errSessionEnded = errors.New("the session has ended")

// seed keys the messages on their way in a run that starts from a
// checkpoint: their send events happened before it.
func (s *sentMessages) seed(list []lab.InFlight) {
	for _, f := range list {
		if s.cur == nil || len(s.cur) >= sentGeneration {
			s.old, s.cur = s.cur, make(map[weak.Pointer[raft.Message]]uint64, 256)
		}
		s.cur[weak.Make(f.Msg)] = f.Sent
	}
}

// post runs f on the session's goroutine, between two of its frames; false
// if the session has ended.
func (s *Session) post(f func()) bool {
	select {
	case s.queries <- f:
		return true
	case <-s.done:
		return false
	}
}
