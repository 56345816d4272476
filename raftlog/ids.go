package raftlog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

const txIDPrefix = "tx-"

// FormatTxID renders a mint as a transaction id: "tx-" followed by the term,
// index and sequence number in lower-case hex without leading zeros, joined by
// "-" (e.g. "tx-3-1a-5"). Clients treat the id as opaque. It is a pure
// function, safe from any goroutine.
func FormatTxID(m Mint) string {
	b := make([]byte, 0, len(txIDPrefix)+3*17)
	b = append(b, txIDPrefix...)
	b = strconv.AppendUint(b, m.Term, 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, m.Index, 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, m.Seq, 16)
	return string(b)
}

// ParseTxID is the inverse of FormatTxID. It accepts only the canonical form,
// so ParseTxID(FormatTxID(m)) == m and FormatTxID(ParseTxID(s)) == s: any
// other string (upper case, signs, leading zeros, empty or over-long parts,
// extra parts) gives an error wrapping ErrInvalidTxID. Safe from any goroutine.
func ParseTxID(id string) (Mint, error) {
	rest, ok := strings.CutPrefix(id, txIDPrefix)
	if !ok {
		return Mint{}, fmt.Errorf("%w: %q: missing %q prefix", ErrInvalidTxID, id, txIDPrefix)
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return Mint{}, fmt.Errorf("%w: %q: want 3 parts after the prefix", ErrInvalidTxID, id)
	}
	var vals [3]uint64
	for i, p := range parts {
		v, err := parseCanonicalHex(p)
		if err != nil {
			return Mint{}, fmt.Errorf("%w: %q: %w", ErrInvalidTxID, id, err)
		}
		vals[i] = v
	}
	return Mint{Term: vals[0], Index: vals[1], Seq: vals[2]}, nil
}

// parseCanonicalHex parses 1 to 16 lower-case hex digits without a leading
// zero (except "0" itself).
func parseCanonicalHex(s string) (uint64, error) {
	switch {
	case s == "":
		return 0, fmt.Errorf("empty part")
	case len(s) > 16:
		return 0, fmt.Errorf("part %q longer than 16 digits", s)
	case len(s) > 1 && s[0] == '0':
		return 0, fmt.Errorf("part %q has a leading zero", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, fmt.Errorf("part %q is not lower-case hex", s)
		}
	}
	return strconv.ParseUint(s, 16, 64)
}

// fingerprintVersion separates this encoding from any later one.
const fingerprintVersion = "tmcluster-fingerprint-v1"

// Fingerprint is the SHA-256 of a request as far as idempotency is concerned:
// its kind (e.g. "execute", "begin"), each branch's branch_id, participant and
// payload in order, and the labels sorted by key. Timeouts, wait flags and the
// branches' output fields are not part of it. Every field is length-prefixed,
// so no two different requests share an encoding. The server computes it on
// arrival and puts it in the Begin or Decide command; the FSM stores it with
// the key binding. It is a pure function, safe from any goroutine.
func Fingerprint(kind string, branches []*tmv1.Branch, labels map[string]string) []byte {
	h := sha256.New()
	writeString(h, fingerprintVersion)
	writeString(h, kind)
	writeUint(h, uint64(len(branches)))
	for _, b := range branches {
		writeString(h, b.GetBranchId())
		writeString(h, b.GetParticipant())
		writeBytes(h, b.GetPayload())
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	writeUint(h, uint64(len(keys)))
	for _, k := range keys {
		writeString(h, k)
		writeString(h, labels[k])
	}
	return h.Sum(nil)
}

func writeUint(h hash.Hash, v uint64) {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	h.Write(buf[:])
}

func writeBytes(h hash.Hash, b []byte) {
	writeUint(h, uint64(len(b)))
	h.Write(b)
}

func writeString(h hash.Hash, s string) {
	writeUint(h, uint64(len(s)))
	h.Write([]byte(s))
}
