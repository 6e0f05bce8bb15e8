package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/visualizer"
)

// pressMessage steps the paused cluster until a message is drawn on its
// way, other than those in skip, presses the mouse on it as a person does,
// and returns its key once its panel shows. Only messages that will not be
// lost are taken, so that what the test does to one is all that happens.
func (p *page) pressMessage(skip ...string) string {
	p.t.Helper()
	find := fmt.Sprintf(`(() => { const c = raftviz.cluster, skip = %q.split(',');
		const q = c.positions.find(q => !skip.includes(q.key) && q.item.key && !q.item.held);
		if (!q) return null;
		return [q.key, c.rect.left + (q.x * c.scale + c.rect.width * c.dpr / 2) / c.dpr, c.rect.top + (q.y * c.scale + c.rect.height * c.dpr / 2) / c.dpr]; })()`,
		strings.Join(skip, ","))
	for range 400 {
		if found := eval[[]any](p, find); found != nil {
			key := found[0].(string)
			x, y := found[1].(float64), found[2].(float64)
			p.do(
				chromedp.MouseEvent("mouseMoved", x, y),
				chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
				chromedp.Sleep(180*time.Millisecond),
				chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
			)
			poll[bool](p, fmt.Sprintf(`!document.getElementById('msg-view').classList.contains('hidden') && raftviz.cluster.picked && raftviz.cluster.picked.key === %q`, key))
			return key
		}
		seq := eval[int](p, `raftviz.model.seq`)
		p.key(kb.ArrowRight)
		poll[bool](p, fmt.Sprintf(`raftviz.model.seq > %d`, seq))
		p.frames(2)
	}
	p.t.Fatal("no message was drawn on its way in 400 steps")
	return ""
}

// eventOf waits for the event of kind that names the message key, and
// returns its text.
func (p *page) eventOf(kind, key string) string {
	p.t.Helper()
	return poll[string](p, fmt.Sprintf(`(e => e && (e.text || e.kind))(raftviz.model.recent.find(e => e.kind === %q && 'k' + (e.key || e.cause) === %q))`, kind, key))
}

// A person picks one message on the ring with the mouse and holds it back,
// delivers it long after it was due, drops another, and has a third
// delivered twice — RaftScope's "drop", and beyond it the lab's message
// control — each press a real one of human length.
func TestActOnOneMessage(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 31, Speed: 0.5})
	p.leader(0, 0)
	p.press(`#btn-pause`, 200*time.Millisecond)
	poll[bool](p, `raftviz.model.paused`)

	// Hold one: it stays drawn, marked held, past its arrival time.
	held := p.pressMessage()
	require.Equal(t, "on its way", poll[string](p, `document.getElementById('mv-state').textContent`))
	p.press(`#msg-view button[data-msg-act=hold]:not(:disabled)`, 200*time.Millisecond)
	require.Equal(t, "hold", p.eventOf("hold", held))
	poll[bool](p, fmt.Sprintf(`raftviz.model.inflight.get(%q).held && document.getElementById('mv-state').textContent === 'held'`, held))
	arrive := eval[float64](p, fmt.Sprintf(`raftviz.model.inflight.get(%q).arrive`, held))
	p.press(`#btn-pause`, 160*time.Millisecond) // resume
	poll[bool](p, fmt.Sprintf(`raftviz.model.t > %f + 300e6`, arrive))
	p.press(`#btn-pause`, 220*time.Millisecond)
	poll[bool](p, `raftviz.model.paused`)
	p.frames(3)
	require.True(t, eval[bool](p, fmt.Sprintf(`raftviz.model.inflight.has(%q) && raftviz.cluster.positions.some(q => q.key === %q)`, held, held)),
		"a held message is still drawn after its arrival time")
	// Deliver it now.
	p.press(`#msg-view button[data-msg-act=release]:not(:disabled)`, 170*time.Millisecond)
	p.eventOf("release", held)
	p.eventOf("deliver", held)
	poll[bool](p, fmt.Sprintf(`!raftviz.model.inflight.has(%q) && document.getElementById('mv-state').textContent === 'arrived or lost'`, held))
	require.True(t, eval[bool](p, `[...document.querySelectorAll('#msg-view button[data-msg-act]')].every(b => b.disabled)`),
		"nothing is offered for a message no longer on its way")

	// Drop one.
	dropped := p.pressMessage(held)
	p.press(`#msg-view button[data-msg-act=discard]:not(:disabled)`, 150*time.Millisecond)
	require.Equal(t, "discarded by a command", p.eventOf("drop", dropped))
	poll[bool](p, fmt.Sprintf(`!raftviz.model.inflight.has(%q)`, dropped))

	// Duplicate one: a copy arrives now, the original is still on its way.
	copied := p.pressMessage(held, dropped)
	p.press(`#msg-view button[data-msg-act=duplicate]:not(:disabled)`, 250*time.Millisecond)
	require.Equal(t, "duplicate", p.eventOf("deliver", copied))
	require.True(t, eval[bool](p, fmt.Sprintf(`raftviz.model.inflight.has(%q)`, copied)), "the original keeps its course")
	require.Empty(t, eval[[]string](p, `raftviz.stats.errors`), "no command was refused")
	p.screenshot("message-actions")
}
