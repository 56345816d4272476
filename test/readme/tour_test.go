package readme_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// This file reads the README: the shell commands of its tour, and how the
// README's fixed addresses and paths map onto a test's real ones.

// tourHeading starts the README section whose commands the test runs; the
// next "## " heading ends it.
const tourHeading = "## A three-step tour"

// tourCommands returns the commands of the ```sh blocks in the README's
// tour, in order: a command continued with a trailing backslash or inside
// a quote spanning lines is one command.
func tourCommands(readme string) ([]string, error) {
	start := strings.Index(readme, "\n"+tourHeading+"\n")
	if start < 0 {
		return nil, fmt.Errorf("README has no %q section", tourHeading)
	}
	section := readme[start+1+len(tourHeading):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var cmds []string
	for rest := section; ; {
		open := strings.Index(rest, "```sh\n")
		if open < 0 {
			break
		}
		rest = rest[open+len("```sh\n"):]
		end := strings.Index(rest, "```")
		if end < 0 {
			return nil, errors.New("README tour: a ```sh block is not closed")
		}
		block, err := splitCommands(rest[:end])
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, block...)
		rest = rest[end+3:]
	}
	if len(cmds) == 0 {
		return nil, errors.New("README tour has no ```sh block")
	}
	return cmds, nil
}

// splitCommands splits a shell block into commands, dropping comments and
// blank lines. Only what the tour uses is understood: single and double
// quotes, backslash continuations and # comments at a line's start.
func splitCommands(block string) ([]string, error) {
	var cmds []string
	var cur strings.Builder
	quote := byte(0)
	for _, line := range strings.SplitAfter(block, "\n") {
		if quote == 0 && cur.Len() == 0 {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
		}
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			}
		}
		cur.WriteString(line)
		text := strings.TrimRight(cur.String(), "\n")
		switch {
		case quote != 0:
		case strings.HasSuffix(text, "\\"):
		default:
			cmds = append(cmds, strings.TrimSpace(text))
			cur.Reset()
		}
	}
	if quote != 0 || cur.Len() > 0 {
		return nil, fmt.Errorf("README tour: unterminated command %q", cur.String())
	}
	return cmds, nil
}

// rewriter maps the README's fixed addresses and paths onto the test's.
type rewriter struct {
	addrs   map[string]string // "127.0.0.1:7001" → the real address
	bin     string            // replaces a leading "bin/"
	scratch string            // replaces "/tmp/tm"
	txID    string            // replaces "<tx_id>" once known
}

var (
	loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:\d+\b`)
	binPrefix    = regexp.MustCompile(`(^|[\s;&|(])bin/`)
)

// rewrite returns cmd with every address, path and placeholder replaced; an
// address the rewriter does not know is an error, so a README that names
// one the test does not start is caught.
func (r *rewriter) rewrite(cmd string) (string, error) {
	var unknown []string
	out := loopbackAddr.ReplaceAllStringFunc(cmd, func(a string) string {
		real, ok := r.addrs[a]
		if !ok {
			unknown = append(unknown, a)
			return a
		}
		return real
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("README command names %v, which the test does not map: %s", unknown, cmd)
	}
	out = binPrefix.ReplaceAllString(out, "${1}"+filepath.ToSlash(r.bin)+"/")
	out = strings.ReplaceAll(out, "/tmp/tm", r.scratch)
	if strings.Contains(out, "<tx_id>") {
		if r.txID == "" {
			return "", fmt.Errorf("README command needs <tx_id> before a payment was made: %s", cmd)
		}
		out = strings.ReplaceAll(out, "<tx_id>", r.txID)
	}
	return out, nil
}

// flagNames returns the --flag names of a command line, without values.
func flagNames(cmd string) []string {
	var names []string
	for _, f := range strings.Fields(cmd) {
		if name, ok := strings.CutPrefix(f, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			names = append(names, name)
		}
	}
	return names
}

// flagValue returns the value of --name in a command line ("" if absent).
func flagValue(cmd, name string) string {
	fields := strings.Fields(cmd)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
		if f == "--"+name && i+1 < len(fields) {
			return fields[i+1]
		}
	}
	return ""
}

// These run under -short too: the README parsing must hold for the system
// test to mean anything.

func TestSplitCommands(t *testing.T) {
	block := "make build\n\n# a comment\nbin/tmd --id n1 \\\n  --bootstrap &\n" +
		"grpcurl -d '{\n  \"a\": \"it''s\"\n}' 127.0.0.1:7002 x/Y\necho \"a\nb\"\n"
	got, err := splitCommands(block)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"make build",
		"bin/tmd --id n1 \\\n  --bootstrap &",
		"grpcurl -d '{\n  \"a\": \"it''s\"\n}' 127.0.0.1:7002 x/Y",
		"echo \"a\nb\"",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if _, err := splitCommands("grpcurl -d '{\n"); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

func TestTourCommandsReadsOnlyTheTour(t *testing.T) {
	readme := "# x\n```sh\nmake demo\n```\n" + tourHeading + "\ntext\n```sh\na 1\nb 2\n```\nmore\n```go\nx := 1\n```\n" +
		"```sh\nc 3\n```\n## Next\n```sh\nd 4\n```\n"
	got, err := tourCommands(readme)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a 1,b 2,c 3" {
		t.Errorf("got %q", got)
	}
}

func TestRewrite(t *testing.T) {
	r := &rewriter{addrs: map[string]string{"127.0.0.1:7001": "127.0.0.1:41234", "127.0.0.1:9101": "127.0.0.1:45678"},
		bin: "/b/bin", scratch: "/s"}
	got, err := r.rewrite("bin/tmctl --addr 127.0.0.1:7001 participants add bank-a 127.0.0.1:9101 --data-dir /tmp/tm/x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/b/bin/tmctl --addr 127.0.0.1:41234 participants add bank-a 127.0.0.1:45678 --data-dir /s/x"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := r.rewrite("grpcurl 127.0.0.1:70011 x"); err == nil {
		t.Error("an unknown address was accepted")
	}
	if _, err := r.rewrite("bin/tmctl tx get <tx_id>"); err == nil {
		t.Error("<tx_id> rewritten before a payment")
	}
	r.txID = "tx-1"
	if got, _ := r.rewrite("bin/tmctl tx get <tx_id>"); got != "/b/bin/tmctl tx get tx-1" {
		t.Errorf("got %s", got)
	}
	if got := flagNames("bin/bankd --listen x --accounts=10 -v"); strings.Join(got, ",") != "listen,accounts" {
		t.Errorf("flagNames = %q", got)
	}
	if got := flagValue("bin/bankd --listen x --accounts=10", "accounts"); got != "10" {
		t.Errorf("flagValue = %q", got)
	}
}
