package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Outcomes of an operation as the client saw it.
const (
	OutcomeCommitted = "COMMITTED"
	OutcomeAborted   = "ABORTED"
	// OutcomeUnknown: the SDK gave up with ErrOutcomeUnknown.
	OutcomeUnknown = "UNKNOWN"
	// OutcomeError: a final error that is not an outcome (never expected
	// for the chaos tier's valid requests).
	OutcomeError = "ERROR"
)

// Kinds of operation in the history.
const (
	// OpTransfer is a transfer's first Execute.
	OpTransfer = "transfer"
	// OpRetry re-executes, during the run, a transfer whose outcome was
	// unknown, with the same key and request.
	OpRetry = "retry"
	// OpFinal re-executes every key once at the end, after healing: its
	// answer is the key's final outcome.
	OpFinal = "final"
)

// Transfer moves Amount from one bank's account to another's (possibly the
// same bank): a debit branch "debit" and a credit branch "credit".
type Transfer struct {
	FromBank string `json:"from_bank"`
	FromAcct string `json:"from_acct"`
	ToBank   string `json:"to_bank"`
	ToAcct   string `json:"to_acct"`
	Amount   int64  `json:"amount"`
}

// Op is one operation of the history: one Execute call of the SDK (with
// its own retries inside) and what it returned.
type Op struct {
	Seq         int64     `json:"seq"`
	Kind        string    `json:"kind"`
	Worker      int       `json:"worker"`
	Key         string    `json:"key"`
	Request     Transfer  `json:"request"`
	Node        string    `json:"node"` // the node the call was sent to first
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	TxID        string    `json:"tx_id,omitempty"`
	Outcome     string    `json:"outcome"`
	AbortReason string    `json:"abort_reason,omitempty"`
	Error       string    `json:"error,omitempty"`
	// Reason is the ErrorInfo reason of the error, if it carried one.
	Reason string `json:"reason,omitempty"`
}

// Told reports whether the client was told an outcome.
func (o *Op) Told() bool { return o.Outcome == OutcomeCommitted || o.Outcome == OutcomeAborted }

// History records operations as they end: in memory for the checker and as
// JSON lines in a file, flushed on Close. It is safe for concurrent use.
type History struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	enc  *json.Encoder
	seq  int64
	ops  []*Op
	werr error
}

// NewHistory creates (truncates) the history file at path.
func NewHistory(path string) (*History, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("chaos: history: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	return &History{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

// NextSeq returns the sequence number of an operation being invoked.
func (h *History) NextSeq() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq
}

// Record appends a finished operation.
func (h *History) Record(op *Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
	if err := h.enc.Encode(op); err != nil && h.werr == nil {
		h.werr = err
	}
}

// Ops returns the operations recorded so far, in invocation order.
func (h *History) Ops() []*Op {
	h.mu.Lock()
	out := slices.Clone(h.ops)
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b *Op) int { return int(a.Seq - b.Seq) })
	return out
}

// Since returns the operations recorded after the first mark ones, in the
// order they ended, and the mark to pass next time.
func (h *History) Since(mark int) ([]*Op, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops[min(mark, len(h.ops)):]), len(h.ops)
}

// Close flushes and closes the file, and reports any write error.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return h.werr
	}
	err := h.w.Flush()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	h.f = nil
	if h.werr != nil {
		return h.werr
	}
	return err
}

// Flush writes what is buffered to the file.
func (h *History) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil
	}
	return h.w.Flush()
}
