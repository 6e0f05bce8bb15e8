package visualizer

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestDecodeCommand(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{`{"op":"pause"}`, ""},
		{`{"op":"crash","node":3,"id":9}`, ""},
		{`{"op":"propose","command":"x=1"}`, ""},
		{`{"op":"partition","groups":[[1,2],[3]]}`, ""},
		{`{"op":"network","knob":"loss","value":0.25}`, ""},
		{`{"op":"seek","t":1000}`, ""},
		{`{"op":"seek","seq":10}`, ""},
		{`{"op":"speed","value":0.5}`, ""},
		{`{"op":"scenario","name":"figure8"}`, ""},
		{``, "malformed command"},
		{`null`, "unknown command"},
		{`{"op":"crash","node":-1}`, "say which node"},
		{`{"op":"crash","node":"two"}`, "malformed command"},
		{`{"op":"step","count":5000}`, "out of range"},
		{`{"op":"seek","t":1,"seq":2}`, `give either "t"`},
		{`{"op":"seek","t":-5}`, "time starts at 0"},
		{`{"op":"speed"}`, "give the speed"},
		{`{"op":"speed","value":0}`, "out of range"},
		{`{"op":"network","knob":"loss"}`, `give "knob" and "value"`},
		{`{"op":"crash","node":2,"bogus":1}`, `unknown field "bogus" (the fields are id, op, node,`},
		{"{\"op\":\"propose\",\"command\":\"a\xffb\"}", "not valid UTF-8"},
		{`{"op":"propose","command":"a\udc00b"}`, "lone surrogate"},
		{`{"op":"propose","command":"a\ufffdb"}`, ""},
		{`{"op":"crash","node":"two"}`, `field "node" must be a number, not string`},
		{`{"op":"partition","groups":[[0]]}`, "IDs start at 1"},
		{`{"op":"propose","command":"` + strings.Repeat("y", 2000) + `"}`, "at most 1024"},
		{`{"op":"pause"} {"op":"pause"}`, "more than one JSON value"},
		{strings.Repeat(" ", MaxCommandBytes+1), "command too long"},
	} {
		_, err := DecodeCommand([]byte(tc.in))
		if tc.err == "" {
			require.NoError(t, err, tc.in)
		} else {
			require.ErrorContains(t, err, tc.err, tc.in)
		}
	}
}

// FuzzDecodeCommand: no frame makes the decoder panic; a refusal is one
// line of text; an accepted command's proposal is the text sent, valid
// UTF-8 (never silently replaced); and an accepted command, encoded again,
// decodes to the same command (nothing the decoder accepted was lost or
// changed on the way in).
func FuzzDecodeCommand(f *testing.F) {
	for _, seed := range []string{
		`{"op":"pause"}`, `{"op":"crash","node":3}`, `{"op":"propose","node":0,"command":"x"}`,
		`{"op":"partition","groups":[[1,2],[3,4,5]]}`, `{"op":"network","knob":"loss","value":0.1}`,
		`{"op":"seek","t":123}`, `{"op":"reset","seed":7,"nodes":9}`, `{"op":"step","count":3}`,
		`{"op":"scenario","name":"split-vote"}`, `{"op":"speed","value":1e308}`, `{`, `[]`, `"x"`, `{"op":"network","knob":"loss","value":NaN}`,
		"{\"op\":\"propose\",\"command\":\"a\xffb\"}", `{"op":"propose","command":"a\udc00b"}`, `{"op":"propose","command":"\ud83d\ude00"}`,
		`{"op":"propose","command":"a\ufffdb"}`, `{"op":"seek","seq":18446744073709551615}`, `{"op":"reset","seed":18446744073709551615}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("a refusal must be one line of text, got %q", msg)
			}
			return
		}
		if !utf8.ValidString(c.Text) {
			t.Fatalf("accepted a proposal that is not valid UTF-8: %q", c.Text)
		}
		if strings.ContainsRune(c.Text, utf8.RuneError) && !bytes.Contains(data, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) {
			t.Fatalf("the proposal %q holds a U+FFFD the frame did not send: text was replaced", c.Text)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted a command that cannot be encoded again: %v", err)
		}
		c2, err := DecodeCommand(again)
		if err != nil {
			t.Fatalf("accepted %s, but not its own encoding %s: %v", data, again, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("a command changed when encoded and decoded again:\n%+v\n%+v", c, c2)
		}
	})
}
