package main

import (
	"io"
	"testing"
)

// --gc-percent applies unless GOGC is set and the flag was not given: an
// operator's GOGC is not silently overridden by the default.
func TestGCPercentFlag(t *testing.T) {
	base := []string{"--id", "n1", "--data-dir", t.TempDir()}
	for _, tc := range []struct {
		gogc    string
		args    []string
		percent int
		keep    bool
	}{
		{"", nil, 200, false},
		{"", []string{"--gc-percent", "100"}, 100, false},
		{"50", nil, 200, true},
		{"off", []string{"--gc-percent", "300"}, 300, false},
	} {
		t.Setenv("GOGC", tc.gogc)
		o, err := parseFlags(append(append([]string{}, base...), tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.gcPercent != tc.percent || o.keepGOGC != tc.keep {
			t.Errorf("GOGC=%q %v: gc percent %d, keep GOGC %v; want %d, %v", tc.gogc, tc.args, o.gcPercent, o.keepGOGC, tc.percent, tc.keep)
		}
	}
}
