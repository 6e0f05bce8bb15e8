package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/visualizer"
)

// In a classroom raftviz listens beyond loopback with a control token. A
// student's page (no token) shows no control and none is accepted from it —
// not a button, not a key, not a drag of the timeline — and says where
// control is; the instructor's page takes the token out of its address bar
// at once, so that the projected address never hands control to the room.
func TestWatchOnlyPageShowsAndTakesNoControl(t *testing.T) {
	const token = "s3cret-classroom-token"
	opts := visualizer.SessionOptions{Nodes: 5, Seed: 41, Speed: 0.5}

	t.Run("watcher", func(t *testing.T) {
		p := openPageWith(t, opts, pageOptions{token: token})
		p.leader(0, 0)
		poll[bool](p, `document.body.classList.contains('watch-only')`)
		// A page on the machine itself is told that what it lacks is the token.
		note := poll[string](p, `(w => !w.classList.contains('hidden') && w.textContent)(document.getElementById('watching'))`)
		require.Contains(t, note, "without the control token")
		require.Contains(t, note, "?token=")
		p.clickNode(2)
		// Nothing that controls the cluster is shown, and no words about
		// controls that would only be refused.
		visible := eval[[]string](p, `[...document.querySelectorAll('button, select, input, a')]
			.filter(e => e.offsetParent !== null && e.getClientRects().length).map(e => e.id || e.dataset.act || e.dataset.msgAct || e.textContent)`)
		require.Subset(t, []string{"btn-large", "btn-help", "window"}, visible, "a watcher sees only the buttons that change its own view")
		head := eval[string](p, `document.querySelector('header').innerText + ' ' + document.querySelector('#timeline-box h2').innerText`)
		require.NotContains(t, strings.ToLower(head), "speed")
		require.NotContains(t, strings.ToLower(head), "drag")

		// The help lists no key of a control, and no drag.
		p.key("?")
		help := poll[string](p, `(h => !h.classList.contains('hidden') && h.innerText)(document.getElementById('help'))`)
		require.NotContains(t, help, "crash the leader")
		require.NotContains(t, help, "Drag")
		p.key(kb.Escape)
		poll[bool](p, `document.getElementById('help').classList.contains('hidden')`)

		// Keys, a drag of the timeline and a hand-made command change nothing.
		p.key("c")
		p.key(" ")
		r := eval[[]float64](p, `(r => [r.left + r.width * 0.3, r.top + r.height / 2, r.left + r.width * 0.2])(document.getElementById('timeline').getBoundingClientRect())`)
		p.do(
			chromedp.MouseEvent(chromedp.MousePressed, r[0], r[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
			chromedp.Sleep(200*time.Millisecond),
			chromedp.MouseEvent("mouseMoved", r[2], r[1], chromedp.ButtonLeft),
			chromedp.MouseEvent(chromedp.MouseReleased, r[2], r[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		)
		p.do(chromedp.Evaluate[chromedp.Void](`raftviz.send({op: 'crash', node: 1})`))
		require.Contains(t, poll[string](p, `(document.querySelector('#toasts .toast.error') || {}).textContent`), "watch-only")
		p.frames(10)
		require.True(t, eval[bool](p, `raftviz.model.live && !raftviz.model.paused && raftviz.model.nodes.every(n => n.up)`))
		_, cmds, _, err := p.session.Recording(context.Background())
		require.NoError(t, err)
		require.Empty(t, cmds, "no command from a watcher was carried out")
		p.screenshot("watch-only")
	})

	t.Run("instructor", func(t *testing.T) {
		p := openPageWith(t, opts, pageOptions{token: token, query: "?token=" + token})
		poll[bool](p, `raftviz.model.nodes.length === 5 && !document.body.classList.contains('watch-only')`)
		require.NotContains(t, eval[string](p, `location.href`), token, "the token is out of the address bar after load")
		require.NotContains(t, eval[string](p, `document.documentElement.outerHTML`), token, "the token is nowhere on the page")
		p.press(`#btn-pause`, 180*time.Millisecond)
		poll[bool](p, `raftviz.model.paused`)
		// The run downloads with the token, which still appears nowhere.
		p.do(chromedp.Evaluate[chromedp.Void](`window.saved = []; HTMLAnchorElement.prototype.click = function () { window.saved.push(this.download); }`))
		p.press(`#btn-trace`, 160*time.Millisecond)
		require.Contains(t, poll[string](p, `window.saved[0] || (raftviz.stats.errors.length && raftviz.stats.errors.join())`), "seed41")
		require.NotContains(t, eval[string](p, `document.documentElement.outerHTML`), token)
		// A reload keeps control, and the address stays clean.
		p.do(chromedp.Reload())
		poll[bool](p, `window.raftviz && raftviz.model.nodes.length === 5 && !document.body.classList.contains('watch-only')`)
		require.NotContains(t, eval[string](p, `location.href`), token)
		p.press(`#btn-pause`, 180*time.Millisecond)
		poll[bool](p, `!raftviz.model.paused`)
	})
}
