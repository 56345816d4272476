package participant

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestRetentionPurgesEndedRecordsOnly(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{Retention: 100 * time.Millisecond, TombstoneGrace: time.Millisecond})
	c := serveKit(t, k)
	start := time.Now()
	mustPrepare(t, c, prepareReq("tx1", "done", "pay"), tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, prepareReq("tx1", "open", "pay"), tmv1.Vote_VOTE_YES)
	if err := commit(c, "tx1", "done"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k.Start(ctx)

	eventually(t, 5*time.Second, "the committed record to be purged", func() bool {
		return stateOf(t, k, "tx1", "done") == StateUnknown
	})
	if since := time.Since(start); since < 100*time.Millisecond {
		t.Errorf("purged after %v, before the retention window", since)
	}
	if got := stateOf(t, k, "tx1", "open"); got != StatePrepared {
		t.Errorf("a prepared branch was purged: state %v", got)
	}
	if _, committed, _ := k.Stats(); committed != 1 {
		t.Errorf("purge changed the lifetime count: %d", committed)
	}
}

func TestTombstoneOutlivesItsTTL(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{Retention: 10 * time.Millisecond, TombstoneGrace: 100 * time.Millisecond})
	c := serveKit(t, k)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k.Start(ctx)

	start := time.Now()
	_, err := c.Abort(context.Background(), &tmv1.AbortRequest{TxId: "tx1", BranchId: "b1",
		DecisionIndex: 3, TombstoneTtl: durationpb.New(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	const keep = 400 * time.Millisecond // tombstone_ttl + TombstoneGrace
	for time.Since(start) < keep-50*time.Millisecond {
		if got := stateOf(t, k, "tx1", "b1"); got != StateTombstone {
			t.Fatalf("tombstone gone after %v, before ttl+grace: state %v", time.Since(start), got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "the tombstone to be purged", func() bool {
		return stateOf(t, k, "tx1", "b1") == StateUnknown
	})
}

func TestListBranchesPages(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)
	var want []string
	for i := range 7 {
		for _, b := range []string{"a", "b"} {
			tx := fmt.Sprintf("tx%d", i)
			mustPrepare(t, c, prepareReq(tx, b, "pay"), tmv1.Vote_VOTE_YES)
			want = append(want, tx+"/"+b)
		}
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		infos, next, err := k.ListBranches(token, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) > 3 || pages > 10 {
			t.Fatalf("page of %d after %d pages", len(infos), pages)
		}
		for _, b := range infos {
			got = append(got, b.TxID+"/"+b.BranchID)
			if b.Participant != "bank-a" || string(b.Payload) != "pay" || b.State != StatePrepared {
				t.Errorf("record %+v", b)
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if _, _, err := k.ListBranches("!!", 3); err != ErrBadPageToken {
		t.Errorf("bad token: %v", err)
	}
}

// BranchesOf reads the named transactions only: grouped in the order
// given, none of a tx whose id merely starts with a named one, nothing for
// an unknown id, a repeated id once; too many ids is an error.
func TestBranchesOf(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)
	for _, tx := range []string{"tx1", "tx10", "tx2"} {
		for _, b := range []string{"b", "a"} {
			mustPrepare(t, c, prepareReq(tx, b, "pay"), tmv1.Vote_VOTE_YES)
		}
	}
	infos, err := k.BranchesOf([]string{"tx2", "nope", "tx1", "tx2", ""})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range infos {
		got = append(got, b.TxID+"/"+b.BranchID)
	}
	if want := "[tx2/a tx2/b tx1/a tx1/b]"; fmt.Sprint(got) != want {
		t.Errorf("BranchesOf listed %v, want %s", got, want)
	}
	if _, err := k.BranchesOf(make([]string, MaxBranchesOf+1)); err == nil {
		t.Errorf("BranchesOf took %d ids", MaxBranchesOf+1)
	}
}
