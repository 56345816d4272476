package chaos

import (
	"fmt"
	"sync"
)

// The checks, in the order the summary lists them.
const (
	CheckConservation = "conservation"
	CheckAtomicity    = "atomicity"
	CheckDurability   = "durability"
	CheckExactlyOnce  = "exactly once"
	CheckLiveness     = "liveness"
	CheckAgreement    = "agreement"
	// CheckService: every fault was healed and the cluster answered
	// transfers again afterwards, and no request got a final error (an
	// answer that is neither an outcome nor "unknown").
	CheckService = "service"
)

// CheckNames returns every check, in summary order.
func CheckNames() []string {
	return []string{CheckConservation, CheckAtomicity, CheckDurability, CheckExactlyOnce,
		CheckLiveness, CheckAgreement, CheckService}
}

// maxDetails bounds the violations kept per check; all are counted.
const maxDetails = 50

// violations collects what the checks found, per check. It is safe for
// concurrent use.
type violations struct {
	mu      sync.Mutex
	details map[string][]string
	counts  map[string]int
	ran     map[string]bool
}

// newViolations returns an empty collection.
func newViolations() *violations {
	return &violations{details: map[string][]string{}, counts: map[string]int{}, ran: map[string]bool{}}
}

// add records one violation of check, described with the evidence.
func (v *violations) add(check, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ran[check] = true
	v.counts[check]++
	if len(v.details[check]) < maxDetails {
		v.details[check] = append(v.details[check], fmt.Sprintf(format, args...))
	}
}

// markRan marks check as run (a check with no violation passes only if it ran).
func (v *violations) markRan(check string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ran[check] = true
}

// CheckResult is one check's verdict.
type CheckResult struct {
	Name string `json:"name"`
	// Pass is true when the check ran and found no violation.
	Pass bool `json:"pass"`
	// Ran is false when the run ended before the check could run.
	Ran bool `json:"ran"`
	// Violations counts what it found; Details describes the first ones.
	Violations int      `json:"violations"`
	Details    []string `json:"details,omitempty"`
	// Note says what was checked (how many transactions, keys, …).
	Note string `json:"note,omitempty"`
}

// results returns the verdict of every check, with notes.
func (v *violations) results(notes map[string]string) []CheckResult {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []CheckResult
	for _, name := range CheckNames() {
		n := v.counts[name]
		out = append(out, CheckResult{Name: name, Ran: v.ran[name], Pass: v.ran[name] && n == 0,
			Violations: n, Details: append([]string(nil), v.details[name]...), Note: notes[name]})
	}
	return out
}

// count is the number of violations of check so far.
func (v *violations) count(check string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.counts[check]
}

// total is the number of violations of every check.
func (v *violations) total() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.counts {
		n += c
	}
	return n
}
