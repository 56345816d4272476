package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tmcluster/tmcluster/client"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// The modes: two of transactions through the SDK, and the raw Raft baseline.
const (
	modeExecute     = "execute"
	modeInteractive = "interactive"
	modeRaft        = "raft"
)

// opFunc runs one transaction (or one raw Raft apply) and reports whether it
// committed. The SDK operations return once ctx ends; a raw apply returns
// when Raft answers, which it does even on shutdown (raftlog.Node.Propose).
type opFunc func(ctx context.Context) (committed bool, err error)

// level is one measured load: c workers running op back to back.
type level struct {
	mode        string
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	maxOps      int64
	opTimeout   time.Duration
	op          opFunc
	// appliedIndex reads the leader's applied Raft index at the window's
	// edges, for log entries per transaction; nil skips it.
	appliedIndex func(context.Context) (uint64, error)
	progress     *progress // nil: no progress bar
}

// levelResult is what one level measured. Latencies are in milliseconds;
// only operations that completed inside the measured window count.
type levelResult struct {
	Mode          string  `json:"mode"`
	Concurrency   int     `json:"concurrency"`
	WindowSeconds float64 `json:"window_s"`
	Committed     int64   `json:"committed"`
	Aborted       int64   `json:"aborted"`
	Errors        int64   `json:"errors"`
	TxPerSec      float64 `json:"tx_per_sec"`
	P50           float64 `json:"p50_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	P999          float64 `json:"p999_ms"`
	Max           float64 `json:"max_ms"`
	EntriesPerTx  float64 `json:"raft_entries_per_tx"`
	CPUSeconds    float64 `json:"cpu_s"`
	CPUPerTx      float64 `json:"cpu_ms_per_tx"`
	AllocsPerTx   float64 `json:"allocs_per_tx"`
	// LoadAvg is the machine's 1-minute load average at the window's end:
	// how much else wanted the CPUs.
	LoadAvg     float64 `json:"loadavg_1m"`
	RatioToRaft float64 `json:"ratio_to_raft,omitempty"`
	FirstError  string  `json:"first_error,omitempty"`
	// Spectrum is the latency distribution: the latency (ms) at each of
	// spectrumQuantiles, for plots.
	Spectrum []quantile `json:"spectrum,omitempty"`
}

// quantile is one point of a latency distribution.
type quantile struct {
	Q  float64 `json:"q"`
	Ms float64 `json:"ms"`
}

// spectrumQuantiles are the points of levelResult.Spectrum: dense towards
// the tail, where payments feel the coordinator.
var spectrumQuantiles = []float64{0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9,
	0.925, 0.95, 0.965, 0.975, 0.98, 0.99, 0.995, 0.9975, 0.999, 0.9995, 0.9999, 1}

// tally is what the workers saw inside the window.
type tally struct {
	mu        sync.Mutex
	lat       []time.Duration
	committed int64
	aborted   int64
	errors    int64
	firstErr  string
}

func (t *tally) add(lat []time.Duration, committed, aborted, errs int64, firstErr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lat = append(t.lat, lat...)
	t.committed += committed
	t.aborted += aborted
	t.errors += errs
	if t.firstErr == "" {
		t.firstErr = firstErr
	}
}

// window is the measured span of a level and the counters read at its edges.
type window struct {
	from, to               time.Time
	cpuFrom, cpuTo         time.Duration
	mallocsFrom, mallocsTo uint64
	appliedFrom, applied   uint64
	appliedOK              bool
	loadAvg                float64
}

// runLevel runs one level: warm-up, then the measured window. Every worker
// stops at the window's end or once maxOps operations were started, so the
// level ends within duration + warmup + opTimeout.
func runLevel(ctx context.Context, lv level) levelResult {
	start := time.Now()
	w := &window{from: start.Add(lv.warmup)}
	w.to = w.from.Add(lv.duration)
	var started, done atomic.Int64
	t := &tally{}
	var wg sync.WaitGroup
	for range lv.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(ctx, lv, w, &started, &done, t)
		}()
	}
	edges := make(chan struct{})
	go func() { defer close(edges); sampleEdges(ctx, lv, w) }()
	stopProgress := lv.progress.run(lv, start, &done)
	wg.Wait()
	<-edges
	stopProgress()
	return summarize(lv, w, t)
}

// worker runs operations back to back until the window ends, ctx ends, or
// the level's operation budget is spent.
func worker(ctx context.Context, lv level, w *window, started, done *atomic.Int64, t *tally) {
	var lat []time.Duration
	var committed, aborted, errs int64
	firstErr := ""
	for ctx.Err() == nil && time.Now().Before(w.to) && started.Add(1) <= lv.maxOps {
		octx, cancel := context.WithTimeout(ctx, lv.opTimeout)
		t0 := time.Now()
		ok, err := lv.op(octx)
		t1 := time.Now()
		cancel()
		done.Add(1)
		if t1.Before(w.from) || t1.After(w.to) {
			continue
		}
		switch {
		case err != nil:
			errs++
			if firstErr == "" {
				firstErr = err.Error()
			}
		case ok:
			committed++
			lat = append(lat, t1.Sub(t0))
		default:
			aborted++
		}
	}
	t.add(lat, committed, aborted, errs, firstErr)
}

// sampleEdges reads CPU time and the applied index at the window's edges.
func sampleEdges(ctx context.Context, lv level, w *window) {
	if !sleepUntil(ctx, w.from) {
		return
	}
	w.cpuFrom, w.mallocsFrom = cpuTime(), mallocs()
	var errFrom error
	if lv.appliedIndex != nil {
		w.appliedFrom, errFrom = lv.appliedIndex(ctx)
	}
	if !sleepUntil(ctx, w.to) {
		return
	}
	w.cpuTo, w.mallocsTo, w.loadAvg = cpuTime(), mallocs(), loadAvg()
	if lv.appliedIndex != nil && errFrom == nil {
		var err error
		w.applied, err = lv.appliedIndex(ctx)
		w.appliedOK = err == nil
	}
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mallocs is the number of heap objects this process has allocated.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// loadAvg is the 1-minute load average of /proc/loadavg, 0 if unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// summarize turns a level's tally into its result.
func summarize(lv level, w *window, t *tally) levelResult {
	secs := w.to.Sub(w.from).Seconds()
	r := levelResult{
		Mode: lv.mode, Concurrency: lv.concurrency, WindowSeconds: secs,
		Committed: t.committed, Aborted: t.aborted, Errors: t.errors, FirstError: t.firstErr,
		TxPerSec: float64(t.committed) / secs,
	}
	sort.Slice(t.lat, func(i, j int) bool { return t.lat[i] < t.lat[j] })
	r.P50, r.P90, r.P99, r.P999 = pct(t.lat, 0.50), pct(t.lat, 0.90), pct(t.lat, 0.99), pct(t.lat, 0.999)
	if n := len(t.lat); n > 0 {
		r.Max = ms(t.lat[n-1])
	}
	if len(t.lat) > 0 {
		for _, q := range spectrumQuantiles {
			r.Spectrum = append(r.Spectrum, quantile{Q: q, Ms: pct(t.lat, q)})
		}
	}
	if w.cpuTo > 0 {
		r.CPUSeconds = (w.cpuTo - w.cpuFrom).Seconds()
		if t.committed > 0 {
			r.CPUPerTx = 1000 * r.CPUSeconds / float64(t.committed)
			r.AllocsPerTx = float64(w.mallocsTo-w.mallocsFrom) / float64(t.committed)
		}
		r.LoadAvg = w.loadAvg
	}
	if w.appliedOK && t.committed > 0 && w.applied >= w.appliedFrom {
		r.EntriesPerTx = float64(w.applied-w.appliedFrom) / float64(t.committed)
	}
	return r
}

// pct is the q-quantile of sorted latencies, in milliseconds (nearest rank).
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// workload builds the SDK operations of the transaction modes.
type workload struct {
	sdk          *client.Client
	participants []string
	branches     int
	payload      []byte
	txTimeout    time.Duration
}

func newWorkload(sdk *client.Client, participants []string, o *options) (*workload, error) {
	payload := make([]byte, o.payload)
	if _, err := rand.Read(payload); err != nil {
		return nil, err
	}
	return &workload{sdk: sdk, participants: participants, branches: o.branches, payload: payload, txTimeout: o.txTimeout}, nil
}

// branchList is the branches of one transaction: branch i goes to
// participant i mod len(participants).
func (wl *workload) branchList() []client.Branch {
	out := make([]client.Branch, wl.branches)
	for i := range out {
		out[i] = client.Branch{ID: fmt.Sprintf("b%d", i), Participant: wl.participants[i%len(wl.participants)], Payload: wl.payload}
	}
	return out
}

// execute is one ExecuteTransaction; the SDK mints its idempotency key.
func (wl *workload) execute(ctx context.Context) (bool, error) {
	res, err := wl.sdk.Execute(ctx, client.ExecuteRequest{Branches: wl.branchList(), Timeout: wl.txTimeout})
	if err != nil {
		return false, err
	}
	return res.Outcome == client.OutcomeCommitted, nil
}

// interactive is Begin (keyed by the SDK), one Enlist per branch, Commit.
func (wl *workload) interactive(ctx context.Context) (bool, error) {
	tx, err := wl.sdk.Begin(ctx, client.BeginRequest{Timeout: wl.txTimeout})
	if err != nil {
		return false, err
	}
	for _, b := range wl.branchList() {
		if _, err := wl.sdk.Enlist(ctx, tx.GetTxId(), b); err != nil {
			return false, err
		}
	}
	res, err := wl.sdk.Commit(ctx, tx.GetTxId(), false)
	if err != nil {
		return false, err
	}
	return res.Outcome == client.OutcomeCommitted, nil
}

// rawApply is the baseline operation: a BarrierCommand (a no-op entry)
// proposed on the leader, through the same Raft path as a decision. The
// leader is looked up for each operation, so a leadership change costs the
// baseline what it costs the SDK's load; after a failure the worker pauses
// briefly instead of spinning on a node that refuses at once.
func rawApply(c *localCluster) opFunc {
	return func(ctx context.Context) (bool, error) {
		lead := c.leader()
		if lead == nil {
			sleepFor(ctx, 10*time.Millisecond)
			return false, errNoLeader
		}
		if _, err := lead.node.Propose(&tmlogv1.BarrierCommand{}); err != nil {
			sleepFor(ctx, 10*time.Millisecond)
			return false, err
		}
		return true, nil
	}
}

// errNoLeader is a raw apply's error while no node leads.
var errNoLeader = errors.New("raft baseline: no node leads")

// sleepFor waits d or until ctx ends.
func sleepFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
