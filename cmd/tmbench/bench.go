package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	rpprof "runtime/pprof"
	"slices"
	"time"

	"github.com/tmcluster/tmcluster/client"
)

// settle is the pause between levels, so phase two of one level does not
// spill into the next level's window.
const settle = 300 * time.Millisecond

// env is what the levels run against: the cluster (in-process or given by
// --targets), the participants, and the SDK client of the load.
type env struct {
	cluster      *localCluster // nil with --targets
	participants []*yesParticipant
	names        []string // participant names the branches use
	sdk          *client.Client
	leaderAddr   string
}

// run sets up the cluster and participants, runs every level and writes the
// report to stdout.
func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	defer debug.SetGCPercent(debug.SetGCPercent(o.gcPercent))
	stopPprof, err := servePprof(o.pprofAddr, stderr)
	if err != nil {
		return err
	}
	defer stopPprof()
	e, err := setup(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	rep := newReport(o)
	levels, err := e.runLevels(ctx, o, stderr)
	stopProfile()
	rep.Levels = levels
	rep.Participants = e.counts()
	if err != nil {
		return err
	}
	if o.jsonOut {
		return rep.writeJSON(stdout)
	}
	return rep.writeTable(stdout)
}

// runLevels runs, for each concurrency, each mode and then the raw Raft
// baseline, so the two figures of a ratio are measured minutes apart at most.
func (e *env) runLevels(ctx context.Context, o *options, stderr io.Writer) ([]levelResult, error) {
	wl, err := newWorkload(e.sdk, e.names, o)
	if err != nil {
		return nil, err
	}
	var bar *progress
	if o.progress {
		bar = &progress{w: stderr}
	}
	var out []levelResult
	for _, c := range o.concurrency {
		modes := slices.Clone(o.modes)
		if o.baseline == "raft" && !slices.Contains(modes, modeRaft) {
			modes = append(modes, modeRaft)
		}
		for _, mode := range modes {
			lv := level{mode: mode, concurrency: c, warmup: o.warmup, duration: o.duration,
				maxOps: int64(o.maxTx), opTimeout: o.txTimeout + 5*time.Second,
				appliedIndex: e.appliedIndex, progress: bar}
			switch mode {
			case modeExecute:
				lv.op = wl.execute
			case modeInteractive:
				lv.op = wl.interactive
			case modeRaft:
				lv.op = rawApply(e.cluster)
			}
			out = append(out, runLevel(ctx, lv))
			if err := ctx.Err(); err != nil {
				return out, err
			}
			time.Sleep(settle)
		}
	}
	setRatios(out)
	return out, nil
}

// setRatios sets each transaction level's tx/s ÷ the raw applies/s at the
// same concurrency.
func setRatios(levels []levelResult) {
	raw := map[int]float64{}
	for _, r := range levels {
		if r.Mode == modeRaft {
			raw[r.Concurrency] = r.TxPerSec
		}
	}
	for i, r := range levels {
		if a := raw[r.Concurrency]; a > 0 && r.Mode != modeRaft {
			levels[i].RatioToRaft = r.TxPerSec / a
		}
	}
}

// setup starts (or finds) the cluster, starts or registers the
// participants, and opens the load's SDK client with the leader first.
func setup(ctx context.Context, o *options) (*env, error) {
	e := &env{}
	endpoints := o.targets
	if len(endpoints) == 0 {
		c, err := startCluster(ctx, o)
		if err != nil {
			return nil, err
		}
		e.cluster, endpoints = c, c.endpoints()
	}
	if err := e.connect(ctx, o, endpoints); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// connect registers the participants and opens the SDK client. The leader's
// endpoint goes first: the SDK keeps the endpoint that answered last, and
// one that reached a follower would pay a forwarding hop on every call.
func (e *env) connect(ctx context.Context, o *options, endpoints []string) error {
	admin, err := client.New(client.Config{Endpoints: endpoints, MaxRetryElapsed: 30 * time.Second})
	if err != nil {
		return err
	}
	defer admin.Close()
	specs := o.participants
	if len(specs) == 0 {
		for i := range min(o.branches, 2) {
			p, err := startParticipant(fmt.Sprintf("bench-p%d", i+1))
			if err != nil {
				return err
			}
			e.participants = append(e.participants, p)
			specs = append(specs, participantSpec{name: p.name, target: p.addr})
		}
	}
	for _, s := range specs {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := admin.RegisterParticipant(rctx, s.name, s.target)
		cancel()
		if err != nil {
			return fmt.Errorf("register participant %s: %w", s.name, err)
		}
		e.names = append(e.names, s.name)
	}
	if e.leaderAddr, err = leaderAddress(ctx, admin); err != nil {
		return err
	}
	ordered := append([]string{e.leaderAddr}, slices.DeleteFunc(slices.Clone(endpoints), func(s string) bool { return s == e.leaderAddr })...)
	e.sdk, err = client.New(client.Config{Endpoints: ordered, MaxRetryElapsed: 30 * time.Second})
	return err
}

// leaderAddress asks the cluster for its leader's gRPC address, waiting up
// to 30 s for one.
func leaderAddress(ctx context.Context, sdk *client.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := sdk.Status(ctx, "")
		if err == nil {
			for _, n := range st.GetNodes() {
				if n.GetId() == st.GetLeaderId() && n.GetGrpcAddress() != "" {
					return n.GetGrpcAddress(), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no leader with a known address (last error: %v)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// appliedIndex is the leader's applied index, read through the SDK.
func (e *env) appliedIndex(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := e.sdk.Status(ctx, e.leaderAddr)
	if err != nil {
		return 0, err
	}
	return st.GetAppliedIndex(), nil
}

// counts reports what the in-process participants received.
func (e *env) counts() []participantCount {
	var out []participantCount
	for _, p := range e.participants {
		out = append(out, participantCount{Name: p.name, Prepares: p.prepares.Load(),
			Commits: p.commits.Load(), Aborts: p.aborts.Load()})
	}
	return out
}

func (e *env) close() {
	if e.sdk != nil {
		e.sdk.Close()
	}
	if e.cluster != nil {
		e.cluster.close()
	}
	for _, p := range e.participants {
		p.stop()
	}
}

// startCPUProfile writes a CPU profile of the levels to path, if set.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { rpprof.StopCPUProfile(); f.Close() }, nil
}

// servePprof serves net/http/pprof on addr, which must be a loopback
// address, if set.
func servePprof(addr string, stderr io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--pprof %s: only a loopback address is allowed", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	// Contention shows in /debug/pprof/mutex and /block only when sampled.
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(lis)
	fmt.Fprintf(stderr, "pprof on http://%s/debug/pprof/\n", lis.Addr())
	return func() { srv.Close() }, nil
}
