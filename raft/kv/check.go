package kv

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Op is one request in a recorded client history.
type Op struct {
	// Client numbers the client that made it, from 0 (one row each in the
	// visualization).
	Client int
	// Cmd is the request: Op, Key and, for a put, Value.
	Cmd Command
	// Start is when the client sent it; End when the answer arrived.
	Start, End time.Time
	// Result is the answer, when one arrived.
	Result Result
	// Unknown says no answer arrived: the request may or may not have been
	// applied, at any time after Start.
	Unknown bool
}

// modelState is the value of one key: the history is checked key by key.
type modelState struct {
	value string
	found bool
}

type modelOutput struct {
	Result
	unknown bool
}

// Model is the porcupine model of the key/value service, one key per
// partition: a get returns the value of the last put (found false after a
// delete or before any put); a put and a delete report whether the key had a
// value, and a delete what it was. An operation whose answer never came may
// have taken effect or not.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Command).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		slices.Sort(keys)
		parts := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			parts[i] = byKey[k]
		}
		return parts
	},
	Init: func() any { return modelState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(modelState), input.(Command), output.(modelOutput)
		switch in.Op {
		case OpPut:
			return out.unknown || out.Found == st.found, modelState{value: in.Value, found: true}
		case OpDelete:
			return out.unknown || (out.Found == st.found && out.Value == st.value), modelState{}
		default:
			return out.Found == st.found && out.Value == st.value, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Command), output.(modelOutput)
		return describe(in, out)
	},
	DescribeState: func(state any) string {
		st := state.(modelState)
		if !st.found {
			return "(no value)"
		}
		return fmt.Sprintf("%q", st.value)
	},
}

func describe(in Command, out modelOutput) string {
	var res string
	switch {
	case out.unknown:
		res = "no answer"
	case in.Op == OpGet && !out.Found:
		res = "not found"
	case in.Op == OpGet:
		res = fmt.Sprintf("%q", out.Value)
	case in.Op == OpDelete && out.Found:
		res = fmt.Sprintf("deleted %q", out.Value)
	case out.Found:
		res = "replaced a value"
	default:
		res = "new key"
	}
	arg := ""
	if in.Op == OpPut {
		arg = fmt.Sprintf(", %q", in.Value)
	}
	return fmt.Sprintf("%s(%q%s) → %s", in.Op, in.Key, arg, res)
}

// Violation is a history that is not linearizable.
type Violation struct {
	// Key is the key whose operations cannot be ordered.
	Key string
	// Ops is the smallest failing history found: the operations on Key, with
	// every operation removed whose removal leaves it failing.
	Ops []Op
	// info is porcupine's account of the whole history, for Visualize.
	info porcupine.LinearizationInfo
}

// String lists the failing history, one operation a line, in start order,
// with times relative to the first start.
func (v *Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kv: the history of key %q is not linearizable; the smallest failing history (%d operations):\n", v.Key, len(v.Ops))
	if len(v.Ops) == 0 {
		return b.String()
	}
	t0 := v.Ops[0].Start
	for _, op := range v.Ops {
		end := "       ?"
		if !op.Unknown {
			end = fmt.Sprintf("%8.1fms", float64(op.End.Sub(t0).Microseconds())/1000)
		}
		fmt.Fprintf(&b, "  client %-3d %8.1fms .. %s  %s\n", op.Client,
			float64(op.Start.Sub(t0).Microseconds())/1000, end, describe(op.Cmd, modelOutput{op.Result, op.Unknown}))
	}
	return b.String()
}

// SaveHTML writes porcupine's visualization of the whole history to path.
func (v *Violation) SaveHTML(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("kv: saving the visualization: %w", err)
	}
	if err := porcupine.Visualize(Model, v.info, f); err != nil {
		f.Close()
		return fmt.Errorf("kv: saving the visualization to %s: %w", path, err)
	}
	return f.Close()
}

// Check reports whether history is linearizable: porcupine.Ok, Illegal (and
// the Violation), or Unknown if timeout ran out first. Gets that got no
// answer are left out: they changed nothing.
func Check(history []Op, timeout time.Duration) (porcupine.CheckResult, *Violation) {
	ops := operations(history)
	res, info := porcupine.CheckOperationsVerbose(Model, ops, timeout)
	if res != porcupine.Illegal {
		return res, nil
	}
	v := &Violation{info: info}
	// The smallest key whose history fails on its own, then shrunk.
	var worst []Op
	for _, part := range byKey(history) {
		if len(worst) > 0 && len(part) >= len(worst) {
			continue
		}
		if porcupine.CheckOperationsTimeout(Model, operations(part), timeout) == porcupine.Illegal {
			worst = part
		}
	}
	if worst == nil { // cannot happen: a history fails only through one of its keys
		return res, v
	}
	v.Key, v.Ops = worst[0].Cmd.Key, shrink(worst, timeout)
	return res, v
}

// shrink removes operations one at a time while the history still fails:
// what is left fails, and fails without any one of its operations removed —
// except a put whose value a remaining operation read: without it, a read of
// that value fails on its own, and the history would no longer tell the story.
func shrink(ops []Op, timeout time.Duration) []Op {
	const maxShrink = 400 // each try is a check: bound the work
	if len(ops) > maxShrink {
		return ops
	}
	ops = slices.Clone(ops)
	for i := len(ops) - 1; i >= 0; i-- {
		if i >= len(ops) || observed(ops, i) {
			continue
		}
		try := slices.Delete(slices.Clone(ops), i, i+1)
		if len(try) > 0 && porcupine.CheckOperationsTimeout(Model, operations(try), timeout) == porcupine.Illegal {
			ops = try
		}
	}
	return ops
}

func byKey(history []Op) [][]Op {
	m := map[string][]Op{}
	var keys []string
	for _, op := range history {
		if op.Unknown && op.Cmd.Op == OpGet {
			continue
		}
		if _, ok := m[op.Cmd.Key]; !ok {
			keys = append(keys, op.Cmd.Key)
		}
		m[op.Cmd.Key] = append(m[op.Cmd.Key], op)
	}
	slices.Sort(keys)
	parts := make([][]Op, len(keys))
	for i, k := range keys {
		parts[i] = m[k]
	}
	return parts
}

// operations turns a history into porcupine's form. An operation without an
// answer may take effect at any time after it started: it ends after all others.
func operations(history []Op) []porcupine.Operation {
	var t0 time.Time
	var last int64
	for i, op := range history {
		if i == 0 || op.Start.Before(t0) {
			t0 = op.Start
		}
	}
	for _, op := range history {
		last = max(last, op.Start.Sub(t0).Nanoseconds())
		if !op.Unknown {
			last = max(last, op.End.Sub(t0).Nanoseconds())
		}
	}
	ops := make([]porcupine.Operation, 0, len(history))
	for _, op := range history {
		if op.Unknown && op.Cmd.Op == OpGet {
			continue
		}
		end := last + 1
		if !op.Unknown {
			end = op.End.Sub(t0).Nanoseconds()
		}
		in := Command{Op: op.Cmd.Op, Key: op.Cmd.Key, Value: op.Cmd.Value}
		ops = append(ops, porcupine.Operation{
			ClientId: op.Client, Input: in, Call: op.Start.Sub(t0).Nanoseconds(),
			Output: modelOutput{op.Result, op.Unknown}, Return: end,
		})
	}
	return ops
}

// observed says whether ops[i] is a put whose value another of ops returned.
func observed(ops []Op, i int) bool {
	if ops[i].Cmd.Op != OpPut {
		return false
	}
	for j, o := range ops {
		if j != i && o.Cmd.Op != OpPut && !o.Unknown && o.Result.Found && o.Result.Value == ops[i].Cmd.Value {
			return true
		}
	}
	return false
}
