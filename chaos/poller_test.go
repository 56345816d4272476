package chaos

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// branchSeen is what the poller saw of one branch at one bank.
type branchSeen struct {
	txID, bank, branchID string
	// notBefore is a lower bound of when the bank recorded the branch: the
	// start of the last listing of that bank that did not hold it (zero if
	// the first listing held it).
	notBefore time.Time
	// prepared is when it was first seen PREPARED (zero: never seen so).
	prepared time.Time
	// ended is when it was first seen COMMITTED or ABORTED after that.
	ended   time.Time
	outcome string
}

// branchPoller lists every bank's branches every interval, each bank on
// its own goroutine (a paused bank does not hold up the others), and
// remembers when each branch was first seen prepared and first seen ended.
type branchPoller struct {
	mu        sync.Mutex
	seen      map[string]*branchSeen // bank/tx/branch
	lastStart map[string]time.Time   // bank → start of its last successful listing
}

// startBranchPoller polls until ctx ends.
func startBranchPoller(ctx context.Context, banks []*procs.Bank, interval time.Duration) *branchPoller {
	p := &branchPoller{seen: map[string]*branchSeen{}, lastStart: map[string]time.Time{}}
	for _, b := range banks {
		go func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for ctx.Err() == nil {
				start := time.Now()
				if brs, err := b.Branches(ctx); err == nil {
					p.observe(b.Name(), brs, start, time.Now())
				}
				select {
				case <-ctx.Done():
				case <-t.C:
				}
			}
		}()
	}
	return p
}

// observe records one listing of bank, asked at start and answered at
// now. A branch the bank lists was recorded before now; one it did not
// list in the listing before was recorded after that listing's start.
func (p *branchPoller) observe(bank string, brs []*bankv1.BranchRecord, start, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prevStart := p.lastStart[bank]
	p.lastStart[bank] = start
	for _, br := range brs {
		key := bank + "/" + br.GetTxId() + "/" + br.GetBranchId()
		s := p.seen[key]
		if s == nil {
			s = &branchSeen{txID: br.GetTxId(), bank: bank, branchID: br.GetBranchId(), notBefore: prevStart}
			p.seen[key] = s
		}
		switch br.GetOutcome() {
		case branchPrepared:
			if s.prepared.IsZero() {
				s.prepared = now
			}
		case branchCommitted, branchAborted:
			if s.ended.IsZero() {
				s.ended, s.outcome = now, shortOutcome(br.GetOutcome())
			}
		}
	}
}

// seenPrepared returns every branch that was seen prepared.
func (p *branchPoller) seenPrepared() []branchSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []branchSeen
	for _, k := range sortedKeys(p.seen) {
		if s := p.seen[k]; !s.prepared.IsZero() {
			out = append(out, *s)
		}
	}
	return out
}

// mintTerm returns the Raft term a tx id was minted in. Tx ids are opaque
// to clients; this test reads the term from the format raftlog.FormatTxID
// documents ("tx-<term>-<index>-<seq>", lower-case hex) to tell the deposed
// leader's transactions from its successor's, and fails loudly if the
// format changes.
func mintTerm(txID string) (uint64, bool) {
	parts := strings.Split(strings.TrimPrefix(txID, "tx-"), "-")
	if len(parts) != 3 || !strings.HasPrefix(txID, "tx-") {
		return 0, false
	}
	term, err := strconv.ParseUint(parts[0], 16, 64)
	return term, err == nil
}
