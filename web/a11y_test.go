package web_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/visualizer"
)

// The page for those who use keys and screen readers: the live region says
// only who leads which term, and only when that changes; a server on the ring
// is picked with Space or Enter (and Space there does not pause); the
// timeline is moved with the arrow keys and End returns to live; the help is
// a modal dialog that takes the focus and gives it back.
func TestKeysAndScreenReaders(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 61, Speed: 1})
	leader, term := p.leader(0, 0)
	// Every change of the live region, from now on.
	p.do(evalVoid(`window.said = []; new MutationObserver(() => said.push(document.getElementById('announce').textContent))
		.observe(document.getElementById('announce'), {childList: true, characterData: true, subtree: true})`))
	p.frames(60)
	require.Empty(t, eval[[]string](p, `said`), "nothing is announced while the same leader leads the same term")
	p.do(evalVoid(fmt.Sprintf(`raftviz.send({op: 'crash', node: %d})`, leader)))
	next, nextTerm := p.leader(leader, term)
	want := fmt.Sprintf("n%d leads term %d", next, nextTerm)
	said := poll[[]string](p, fmt.Sprintf(`said.includes(%q) && said`, want))
	sentence := regexp.MustCompile(`^(n\d+ leads term \d+|no leader)$`)
	for i, s := range said {
		require.Regexp(t, sentence, s, "the live region says who leads, nothing else")
		if i > 0 {
			require.NotEqual(t, said[i-1], s, "each announcement is a change")
		}
	}
	require.LessOrEqual(t, len(said), 4, "a re-election is a few announcements: %v", said)

	// Space on a focused server picks it, and does not pause the cluster.
	p.do(evalVoid(`document.querySelector('#cluster .node[data-id="3"]').focus()`))
	p.key(" ")
	poll[bool](p, `!document.getElementById('node-view').classList.contains('hidden') && document.getElementById('nv-name').textContent === 'n3'`)
	require.False(t, eval[bool](p, `raftviz.model.paused`), "Space on a server picks it; it does not pause")
	p.do(evalVoid(`document.querySelector('#cluster .node[data-id="4"]').focus()`))
	p.key(kb.Enter)
	poll[bool](p, `document.getElementById('nv-name').textContent === 'n4'`)

	// The timeline: ← goes back in time, End returns to live.
	p.do(evalVoid(`document.getElementById('timeline').focus()`))
	require.True(t, eval[bool](p, `document.activeElement.id === 'timeline'`))
	p.key(kb.ArrowLeft)
	poll[bool](p, `!raftviz.model.live`)
	p.key(kb.End)
	poll[bool](p, `raftviz.model.live`)

	// The help: a modal dialog with the focus inside; Escape gives it back.
	p.key("?")
	poll[bool](p, `!document.getElementById('help').classList.contains('hidden')`)
	require.Equal(t, []string{"dialog", "true", "btn-close-help"}, eval[[]string](p,
		`(h => [h.getAttribute('role'), h.getAttribute('aria-modal'), document.activeElement.id])(document.getElementById('help'))`))
	p.key(kb.Escape)
	poll[bool](p, `document.getElementById('help').classList.contains('hidden') && document.activeElement.id === 'timeline'`)
}

// evalVoid runs a script in the page for its effect.
func evalVoid(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](expr)
}
