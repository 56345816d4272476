package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Start-up errors are one clear line (what main prints after "tmd: ") and a
// non-zero exit, never a panic.
func TestStartupErrorsAreOneClearLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "raft.db"), []byte("not a bolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, "node-id"), []byte("n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"data dir cannot be created", []string{"--id", "n1", "--data-dir", "/proc/tmd-nope"}, "data dir"},
		{"data dir belongs to another node", []string{"--id", "n2", "--data-dir", corrupt}, `belongs to node "n1"`},
		{"corrupt raft store", []string{"--id", "n1", "--data-dir", corrupt}, "raft.db"},
		{"grpc port in use", []string{"--id", "n1", "--data-dir", t.TempDir(), "--grpc-addr", busy.Addr().String()}, "--grpc-addr"},
		{"raft port in use", []string{"--id", "n1", "--data-dir", t.TempDir(), "--grpc-addr", "127.0.0.1:0", "--raft-addr", busy.Addr().String()}, "raft address"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"data dir not writable", []string{"--id", "n1", "--data-dir", readOnly}, "not writable"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			err = run(o)
			if err == nil {
				t.Fatal("started")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line containing %q", msg, tc.want)
			}
		})
	}
}
