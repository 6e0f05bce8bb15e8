package lab

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Network is the simulated network's behaviour. Every message is delayed by a
// latency drawn uniformly from [MinLatency, MaxLatency]. Each link from one
// server to another delivers in order, as a TCP connection does, unless the
// message is reordered: then it arrives after its own latency, overtaking
// others. On top of that a message may be lost, duplicated (the copy is
// reordered), or held back for a long delay of up to MaxLongDelay (and
// overtaken). Everything can be changed while the cluster runs
// (Sim.SetNetwork).
type Network struct {
	MinLatency time.Duration `json:"minLatency"`
	MaxLatency time.Duration `json:"maxLatency"`
	// Loss is the probability that a message is lost.
	Loss float64 `json:"loss"`
	// Duplicate is the probability that a message arrives twice.
	Duplicate float64 `json:"duplicate"`
	// Reorder is the probability that a message ignores the order of its link.
	Reorder float64 `json:"reorder"`
	// LongDelay is the probability that a message is held back for a time
	// drawn from (MaxLatency, MaxLongDelay].
	LongDelay    float64       `json:"longDelay"`
	MaxLongDelay time.Duration `json:"maxLongDelay"`
}

// DefaultNetwork is a reliable network with latencies of 1–10ms (the
// broadcast times of section 5.6 of the Raft paper).
func DefaultNetwork() Network {
	return Network{
		MinLatency:   time.Millisecond,
		MaxLatency:   10 * time.Millisecond,
		MaxLongDelay: 300 * time.Millisecond,
	}
}

// UnreliableNetwork is DefaultNetwork that loses 10% of messages, duplicates
// 2%, reorders 20% and holds 10% back for up to 300ms: the network the graded
// suites call unreliable.
func UnreliableNetwork() Network {
	n := DefaultNetwork()
	n.Loss = 0.1
	n.Duplicate = 0.02
	n.Reorder = 0.2
	n.LongDelay = 0.1
	return n
}

// MaxDelay bounds every delay of a network: a message that takes longer than
// this is as good as lost, and a bound keeps the arithmetic of drawing
// latencies (and the work of a run) finite.
const MaxDelay = time.Minute

// Validate reports every way n is wrong. It is the one check of a network:
// the simulator, traces and the visualizer's controls all go through it.
func (n Network) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("lab: "+format, args...))
	}
	if n.MinLatency < 0 {
		bad("MinLatency (%v) must not be negative", n.MinLatency)
	}
	if n.MaxLatency < n.MinLatency {
		bad("MaxLatency (%v) must be at least MinLatency (%v)", n.MaxLatency, n.MinLatency)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MinLatency", n.MinLatency}, {"MaxLatency", n.MaxLatency}, {"MaxLongDelay", n.MaxLongDelay}} {
		if d.v > MaxDelay || d.v < 0 && d.name == "MaxLongDelay" {
			bad("%s (%v) must be between 0 and %v", d.name, d.v, MaxDelay)
		}
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", n.Loss}, {"Duplicate", n.Duplicate}, {"Reorder", n.Reorder}, {"LongDelay", n.LongDelay}} {
		if !(p.v >= 0 && p.v <= 1) { // also refuses NaN
			bad("%s (%v) must be a probability between 0 and 1", p.name, p.v)
		}
	}
	if n.LongDelay > 0 && n.MaxLongDelay < n.MaxLatency {
		bad("MaxLongDelay (%v) must be at least MaxLatency (%v) when LongDelay is set", n.MaxLongDelay, n.MaxLatency)
	}
	return errors.Join(errs...)
}

// knobs lists the settings as (name, value) pairs: the Knob and Value of a
// network event. Latencies are in milliseconds.
func (n Network) knobs() [7]knob {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return [7]knob{
		{"min-latency-ms", ms(n.MinLatency)},
		{"max-latency-ms", ms(n.MaxLatency)},
		{"loss", n.Loss},
		{"duplicate", n.Duplicate},
		{"reorder", n.Reorder},
		{"long-delay", n.LongDelay},
		{"max-long-delay-ms", ms(n.MaxLongDelay)},
	}
}

type knob struct {
	name  string
	value float64
}

// knobNames lists the settings WithKnob knows.
const knobNames = "loss, duplicate, reorder, long-delay, min-latency-ms, max-latency-ms or max-long-delay-ms"

// WithKnob returns n with one setting changed, named as a network event
// names it (loss, duplicate, reorder, long-delay: probabilities;
// min-latency-ms, max-latency-ms, max-long-delay-ms: milliseconds). It
// refuses only what cannot be a setting at all — an unknown name, a value
// that is not a number, or a time too large to hold; whether the new
// network makes sense is for Validate.
func (n Network) WithKnob(name string, v float64) (Network, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return n, fmt.Errorf("lab: network setting %s: %v is not a number", name, v)
	}
	d := time.Duration(v * float64(time.Millisecond))
	if strings.HasSuffix(name, "-ms") && math.Abs(v) > float64(MaxDelay/time.Millisecond) {
		// Refused here, before it overflows a Duration.
		return n, fmt.Errorf("lab: network setting %s: %v is out of range: a delay is 0 to %d ms", name, v, MaxDelay/time.Millisecond)
	}
	switch name {
	case "min-latency-ms":
		n.MinLatency = d
	case "max-latency-ms":
		n.MaxLatency = d
	case "loss":
		n.Loss = v
	case "duplicate":
		n.Duplicate = v
	case "reorder":
		n.Reorder = v
	case "long-delay":
		n.LongDelay = v
	case "max-long-delay-ms":
		n.MaxLongDelay = d
	default:
		return n, fmt.Errorf("lab: unknown network setting %q (want %s)", name, knobNames)
	}
	return n, nil
}
