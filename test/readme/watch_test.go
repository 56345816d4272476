package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Bounds of one watch step.
const (
	watchPayments = 5               // payments made before giving up on an event
	eventWait     = 2 * time.Second // for an event after each payment
	stopWait      = 5 * time.Second // for the watch to end once signalled
)

// eventReader reads the first event a watch prints from its stdout and
// sends it on first; it need not read further.
type eventReader func(stdout io.Reader, first chan<- string)

// firstJSONEvent reads grpcurl's first message (indented JSON).
func firstJSONEvent(stdout io.Reader, first chan<- string) {
	var raw json.RawMessage
	if json.NewDecoder(stdout).Decode(&raw) == nil {
		first <- string(raw)
	}
}

// firstLineEvent reads tmctl's first line.
func firstLineEvent(stdout io.Reader, first chan<- string) {
	sc := bufio.NewScanner(stdout)
	if sc.Scan() {
		first <- sc.Text()
	}
}

// watch runs a README watch command in the background, makes payments
// until it prints an event (a watch started just before a payment may miss
// it: grpcurl says nothing once it is in place), checks that event, and
// stops the watch the way a person would: Ctrl-C for tmctl, which must
// then exit 0, and SIGTERM for grpcurl.
func (tr *tour) watch(ctx context.Context, cmd string, read eventReader) {
	t := tr.t
	line, err := tr.rw.rewrite(cmd)
	if err != nil {
		t.Fatal(err)
	}
	isTmctl := strings.HasPrefix(cmd, "bin/tmctl ")
	c := exec.CommandContext(ctx, "sh", "-c", "exec "+line) // exec: the PID is the watch's own
	c.Dir, c.Env = tr.cl.Dir(), tr.env
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	c.Stdout, c.Stderr = pw, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	events := make(chan string, 1)
	go func() {
		read(pr, events)
		_, _ = io.Copy(io.Discard, pr) // keep draining until the watch exits
	}()
	exited := make(chan error, 1)
	go func() {
		err := c.Wait()
		pw.Close()
		exited <- err
	}()
	defer func() {
		_ = c.Process.Kill() // by PID; a no-op once it has exited
	}()
	if isTmctl {
		tr.await(&stderr, "tmctl: watching ", exited)
	}

	var event string
	for made := 0; event == ""; made++ {
		if made == watchPayments {
			t.Fatalf("%s printed nothing after %d payments; stderr: %s", cmd, made, stderr.String())
		}
		tr.paid = append(tr.paid, tr.pay(ctx))
		select {
		case event = <-events:
		case err := <-exited:
			t.Fatalf("%s exited (%v) before printing a change; stderr: %s", cmd, err, stderr.String())
		case <-time.After(eventWait):
		}
	}
	t.Logf("$ %s\n%s\n(then stopped)", cmd, event)
	// The change may be of an earlier payment still completing.
	if isTmctl {
		tr.checkTmctlEvent(event, tr.paid)
	} else {
		tr.checkJSONEvent(event, tr.paid)
	}

	sig := syscall.SIGTERM
	if isTmctl {
		sig = syscall.SIGINT
	}
	if err := c.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", cmd, err)
	}
	select {
	case err := <-exited:
		if isTmctl && err != nil {
			t.Errorf("tmctl tx watch ended with %v after Ctrl-C, want exit 0; stderr: %s", err, stderr.String())
		}
	case <-time.After(stopWait):
		t.Errorf("%s still runs %v after %v", cmd, stopWait, sig)
	}
}

// await waits until the watch's stderr contains want.
func (tr *tour) await(stderr *lockedBuffer, want string, exited <-chan error) {
	deadline := time.After(cmdTimeout)
	for !strings.Contains(stderr.String(), want) {
		select {
		case err := <-exited:
			tr.t.Fatalf("watch exited (%v): %s", err, stderr.String())
		case <-deadline:
			tr.t.Fatalf("no %q from the watch: %s", want, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkJSONEvent checks grpcurl's first message: a committed one of ours.
func (tr *tour) checkJSONEvent(event string, ids []string) {
	var resp tmv1.WatchTransactionsResponse
	if err := protojson.Unmarshal([]byte(event), &resp); err != nil {
		tr.t.Fatalf("watch message is not a WatchTransactionsResponse: %v\n%s", err, event)
	}
	tx := resp.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || !slices.Contains(ids, tx.GetTxId()) {
		tr.t.Errorf("watch message is %s %v, want one of %v COMMITTED", tx.GetTxId(), tx.GetState(), ids)
	}
}

// checkTmctlEvent checks tmctl's first line: time, tx id, state, ….
func (tr *tour) checkTmctlEvent(event string, ids []string) {
	f := strings.Fields(event)
	if len(f) < 5 || !slices.Contains(ids, f[1]) || f[2] != "COMMITTED" || !strings.HasPrefix(f[3], "completed=") {
		tr.t.Errorf("tx watch line %q, want: time, one of %v, COMMITTED, completed=…, branches", event, ids)
	}
	if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
		tr.t.Errorf("tx watch line %q starts with no time: %v", event, err)
	}
}

// pay makes a small committed payment between the README's banks through
// the SDK and returns its tx id: a change for the watches to see.
func (tr *tour) pay(ctx context.Context) string {
	t := tr.t
	var names []string
	for _, b := range tr.banks {
		names = append(names, b.name)
	}
	slices.Sort(names)
	if len(names) < 2 {
		t.Fatalf("the README starts %d banks; the watch payment needs two", len(names))
	}
	debit, _ := json.Marshal(map[string]any{"account": "acct-3", "amount": -1})
	credit, _ := json.Marshal(map[string]any{"account": "acct-4", "amount": 1})
	res, err := tr.sdk.Execute(ctx, client.ExecuteRequest{
		Branches: []client.Branch{
			{ID: "debit", Participant: names[0], Payload: debit},
			{ID: "credit", Participant: names[1], Payload: credit},
		},
		IdempotencyKey: fmt.Sprintf("readme-watch-%d", len(tr.paid)),
		Timeout:        5 * time.Second,
	})
	if err != nil {
		t.Fatalf("watch payment: %v", err)
	}
	if res.Outcome != client.OutcomeCommitted {
		t.Fatalf("watch payment %s: %v (%s)", res.TxID, res.Outcome, res.AbortReason)
	}
	return res.TxID
}

// lockedBuffer is a bytes.Buffer for one writing process and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
