package chaos

import (
	"bufio"
	"os"
	"strings"

	"github.com/tmcluster/tmcluster/test/procs"
)

// maxLogLine bounds one log line the scan reads; longer lines are cut.
const maxLogLine = 1 << 20

// scanLogs reads every process's log, before the processes are stopped,
// for what the heals would otherwise hide: a process that exited on its own
// (the harness logs "=== procs: exited at …: <how>"; the tier's own kills
// show "signal: killed", and no process is stopped otherwise before the
// scan), a panic, a data race (binaries built with -race), or an error
// logged by tmd or bankd (level=ERROR; none is expected in a chaos run).
// The atomicity alarms (HEURISTIC HAZARD from a node, ATOMICITY ALARM from
// a participant) count against atomicity, the rest against service.
func scanLogs(v *violations, cluster *procs.Cluster) {
	for _, p := range cluster.Procs() {
		f, err := os.Open(p.LogPath())
		if err != nil {
			v.add(CheckService, "%s: cannot read its log: %v", p.Name(), err)
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), maxLogLine)
		for n := 1; sc.Scan(); n++ {
			if check := logFinding(sc.Text()); check != "" {
				v.add(check, "%s log line %d: %s", p.Name(), n, clip(sc.Text(), 400))
			}
		}
		f.Close()
	}
}

// logFinding returns the check a log line violates, or "".
func logFinding(line string) string {
	switch {
	case strings.Contains(line, "HEURISTIC HAZARD"), strings.Contains(line, "ATOMICITY ALARM"):
		return CheckAtomicity
	case strings.HasPrefix(line, "=== procs: exited") && !strings.HasSuffix(line, "signal: killed"):
		return CheckService
	case strings.HasPrefix(line, "panic:"), strings.HasPrefix(line, "fatal error:"),
		strings.HasPrefix(line, "WARNING: DATA RACE"), strings.Contains(line, "level=ERROR"):
		return CheckService
	}
	return ""
}
