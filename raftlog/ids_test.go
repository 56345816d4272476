package raftlog

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestFormatAndParseTxID(t *testing.T) {
	tests := []struct {
		m  Mint
		id string
	}{
		{Mint{3, 0x1a, 5}, "tx-3-1a-5"},
		{Mint{0, 0, 0}, "tx-0-0-0"},
		{Mint{1, 10, 0}, "tx-1-a-0"},
		{Mint{math.MaxUint64, math.MaxUint64, math.MaxUint64}, "tx-ffffffffffffffff-ffffffffffffffff-ffffffffffffffff"},
	}
	for _, tc := range tests {
		if got := FormatTxID(tc.m); got != tc.id {
			t.Errorf("FormatTxID(%v) = %q, want %q", tc.m, got, tc.id)
		}
		got, err := ParseTxID(tc.id)
		if err != nil || got != tc.m {
			t.Errorf("ParseTxID(%q) = %v, %v, want %v", tc.id, got, err, tc.m)
		}
	}
}

func TestParseTxIDRejectsNonCanonical(t *testing.T) {
	for _, id := range []string{
		"", "tx", "tx-", "tx-1-2", "tx-1-2-3-4", "TX-1-2-3", "tx-A-2-3", "tx-1-2-F",
		"tx-01-2-3", "tx-1-00-3", "tx-+1-2-3", "tx--1-2-3", "tx-1--3", "tx-1-2-",
		"tx-1-2-3 ", " tx-1-2-3", "tx-1-2-g", "tx-0x1-2-3", "tx-1_0-2-3",
		"tx-" + strings.Repeat("1", 17) + "-2-3", "xx-1-2-3", "tx-1-2-3\n",
	} {
		if m, err := ParseTxID(id); !errors.Is(err, ErrInvalidTxID) {
			t.Errorf("ParseTxID(%q) = %v, %v, want ErrInvalidTxID", id, m, err)
		}
	}
}

// FuzzParseTxID: every accepted id is canonical, and formatting round-trips.
func FuzzParseTxID(f *testing.F) {
	for _, s := range []string{"tx-3-1a-5", "tx-0-0-0", "tx-01-2-3", "tx-ffffffffffffffff-1-1", "tx-1-2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTxID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTxID) {
				t.Fatalf("error %v does not wrap ErrInvalidTxID", err)
			}
			return
		}
		if got := FormatTxID(m); got != s {
			t.Fatalf("accepted non-canonical %q (formats as %q)", s, got)
		}
		if m2, err := ParseTxID(FormatTxID(m)); err != nil || m2 != m {
			t.Fatalf("round trip of %v: %v, %v", m, m2, err)
		}
	})
}

func TestFingerprint(t *testing.T) {
	bs := twoBranches(0, 0)
	labels := map[string]string{"a": "1", "b": "2"}
	base := Fingerprint("execute", bs, labels)
	if len(base) != 32 {
		t.Fatalf("len = %d, want 32", len(base))
	}
	same := []struct {
		name string
		fp   []byte
	}{
		{"same input", Fingerprint("execute", twoBranches(0, 0), map[string]string{"b": "2", "a": "1"})},
		{"states and reasons ignored", Fingerprint("execute", []*tmv1.Branch{
			{BranchId: "b1", Participant: "bank-a", Payload: []byte(`{"amount":-5}`), State: bPrepared, Reason: "x", Attempts: 3},
			bs[1]}, labels)},
	}
	for _, tc := range same {
		if !bytes.Equal(tc.fp, base) {
			t.Errorf("%s: fingerprint differs", tc.name)
		}
	}
	different := []struct {
		name string
		fp   []byte
	}{
		{"kind", Fingerprint("begin", bs, labels)},
		{"branch id", Fingerprint("execute", []*tmv1.Branch{br("bX", "bank-a", `{"amount":-5}`, 0), bs[1]}, labels)},
		{"participant", Fingerprint("execute", []*tmv1.Branch{br("b1", "bank-x", `{"amount":-5}`, 0), bs[1]}, labels)},
		{"payload", Fingerprint("execute", []*tmv1.Branch{br("b1", "bank-a", `{"amount":-6}`, 0), bs[1]}, labels)},
		{"branch order", Fingerprint("execute", []*tmv1.Branch{bs[1], bs[0]}, labels)},
		{"fewer branches", Fingerprint("execute", bs[:1], labels)},
		{"label value", Fingerprint("execute", bs, map[string]string{"a": "1", "b": "3"})},
		{"no labels", Fingerprint("execute", bs, nil)},
		{"shifted boundary", Fingerprint("execute", []*tmv1.Branch{br("b", "1bank-a", `{"amount":-5}`, 0), bs[1]}, labels)},
		{"label moved into key", Fingerprint("execute", bs, map[string]string{"a1": "", "b": "2"})},
	}
	for _, tc := range different {
		if bytes.Equal(tc.fp, base) {
			t.Errorf("%s: fingerprint did not change", tc.name)
		}
	}
}
