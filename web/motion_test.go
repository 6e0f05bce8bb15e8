package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/visualizer"
)

// With prefers-reduced-motion, messages do not glide: each is drawn still,
// halfway along its link, for as long as it is on its way; lost ones do not
// fall. Without it they move.
func TestReducedMotionHoldsMessagesStill(t *testing.T) {
	p := openPage(t, visualizer.SessionOptions{Nodes: 5, Seed: 51, Speed: 0.3})
	// Slow links keep each message on screen for a second or so.
	poll[bool](p, `raftviz.model.nodes.length === 5 && raftviz.send({op: 'network', knob: 'max-latency-ms', value: 400}) &&
		raftviz.send({op: 'network', knob: 'min-latency-ms', value: 250})`)
	poll[bool](p, `raftviz.model.network.minLatency === 250e6`)
	// moved reports whether some message drawn now is drawn elsewhere three
	// frames later.
	moved := func() bool {
		t.Helper()
		for range 50 {
			before := poll[map[string][]float64](p, `raftviz.cluster.positions.length > 0 && Object.fromEntries(raftviz.cluster.positions.map(q => [q.key, [q.x, q.y]]))`)
			p.frames(3)
			after := eval[map[string][]float64](p, `Object.fromEntries(raftviz.cluster.positions.map(q => [q.key, [q.x, q.y]]))`)
			both := 0
			for k, a := range before {
				b, ok := after[k]
				if !ok {
					continue
				}
				both++
				if a[0] != b[0] || a[1] != b[1] {
					return true
				}
			}
			if both > 0 {
				return false
			}
		}
		t.Fatal("no message stayed on screen for three frames")
		return false
	}
	require.True(t, moved(), "messages move when motion is welcome")
	_, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}})
	require.NoError(t, err)
	require.True(t, eval[bool](p, `matchMedia('(prefers-reduced-motion: reduce)').matches`))
	p.frames(2) // the messages drawn before are forgotten
	for i := range 3 {
		require.False(t, moved(), fmt.Sprintf("a message moved with reduced motion (try %d)", i))
	}
}
