package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// Agreement timing: one digest call's timeout, and how often and how long
// the final check polls for every node to stand at the same index.
const (
	digestTimeout  = 5 * time.Second
	agreementPoll  = 200 * time.Millisecond
	agreementLimit = 30 * time.Second
)

// digests asks every running, unpaused node for its state digest, in
// parallel; a node that fails has a nil entry.
func digests(ctx context.Context, nodes []*procs.Node) []*tmv1.GetClusterStatusResponse {
	out := make([]*tmv1.GetClusterStatusResponse, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if !n.Running() || n.Paused() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = n.StateDigest(ctx, digestTimeout)
		}()
	}
	wg.Wait()
	return out
}

// compareDigests adds a violation for every two nodes that report
// different digests at the same state_digest_index, and reports whether
// every node answered at one index and how many pairs disagreed.
func compareDigests(v *violations, nodes []*procs.Node, sts []*tmv1.GetClusterStatusResponse, when string) (allSame bool, mismatches int) {
	allSame = true
	for i, a := range sts {
		if a == nil {
			allSame = false
			continue
		}
		for j := i + 1; j < len(sts); j++ {
			b := sts[j]
			if b == nil {
				continue
			}
			if a.GetStateDigestIndex() != b.GetStateDigestIndex() {
				allSame = false
				continue
			}
			if a.GetStateDigest() != b.GetStateDigest() {
				mismatches++
				v.add(CheckAgreement, "%s: at index %d %s has digest %s and %s has %s",
					when, a.GetStateDigestIndex(), nodes[i].ID, a.GetStateDigest(), nodes[j].ID, b.GetStateDigest())
			}
		}
	}
	return allSame, mismatches
}

// checkAgreement polls, with no load running, until every node reports its
// digest at the same index (the leader's, since the leader's applied index
// is the highest), then compares. Not getting there within agreementLimit
// is a violation too: the replicas did not converge.
func checkAgreement(ctx context.Context, v *violations, cluster *procs.Cluster) string {
	v.markRan(CheckAgreement)
	nodes := cluster.Nodes()
	ctx, cancel := context.WithTimeout(ctx, agreementLimit)
	defer cancel()
	var last []*tmv1.GetClusterStatusResponse
	var took time.Duration
	for ctx.Err() == nil {
		start := time.Now()
		last = digests(ctx, nodes)
		took = time.Since(start)
		same, bad := compareDigests(v, nodes, last, "end of run")
		if bad > 0 {
			return "the nodes disagree"
		}
		if same {
			return fmt.Sprintf("%d nodes agree at index %d (digests read in %v)", len(nodes),
				last[0].GetStateDigestIndex(), took.Round(time.Millisecond))
		}
		sleepCtx(ctx, agreementPoll)
	}
	var seen []string
	for i, st := range last {
		if st == nil {
			seen = append(seen, nodes[i].ID+": no answer")
		} else {
			seen = append(seen, fmt.Sprintf("%s: index %d", nodes[i].ID, st.GetStateDigestIndex()))
		}
	}
	v.add(CheckAgreement, "the nodes never stood at one index within %v of idling: %v", agreementLimit, seen)
	return ""
}

// sampleAgreement compares digests a few times while the load runs: two
// nodes that happen to stand at the same index must agree. Keep rounds
// low: a digest encodes the whole state, and asking every node for one
// costs each a burst of CPU (see checkAgreement's note).
func sampleAgreement(ctx context.Context, v *violations, cluster *procs.Cluster, when string, rounds int) {
	nodes := cluster.Nodes()
	for range rounds {
		if _, bad := compareDigests(v, nodes, digests(ctx, nodes), when); bad > 0 {
			return
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}
