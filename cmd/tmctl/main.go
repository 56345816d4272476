// Command tmctl is the operator CLI of a tmcluster cluster: cluster status,
// transactions, participants and Raft membership. It talks to the nodes
// through the client SDK, so it fails over between the --addr nodes and
// follows the leader like any payment service would.
//
// Output is a human table by default and protojson of the responses with
// --json. Errors are one line on stderr and exit status 1.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
