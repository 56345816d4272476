// Command gencerts makes a development CA and the certificates of a local
// tmcluster: nodes n1…n5, participants bank-a…bank-c, an operator "admin"
// and a non-admin client "client". Each certificate's Subject CommonName is
// its name, which is the identity tmd checks (--admin-identities, a
// participant's registered identity). Run through `make certs`.
//
//	gencerts --dir certs/dev          # once; an existing CA is kept
//	gencerts --dir certs/dev --force  # a new CA and new certificates
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tmcluster/tmcluster/certs/devca"
)

const defaultNames = "n1,n2,n3,n4,n5,bank-a,bank-b,bank-c,admin,client"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gencerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", filepath.Join("certs", "dev"), "folder to write ca.pem, NAME.pem and NAME-key.pem into")
	names := fs.String("names", defaultNames, "comma-separated certificate names (each one's CommonName)")
	force := fs.Bool("force", false, "replace an existing CA and its certificates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := os.Stat(filepath.Join(*dir, "ca.pem")); err == nil && !*force {
		fmt.Fprintf(stdout, "%s already holds a CA: kept (use --force to replace it)\n", *dir)
		return nil
	}
	var list []string
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			list = append(list, n)
		}
	}
	caFile, _, err := devca.Write(*dir, list...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and certificates for %s into %s\n", caFile, strings.Join(list, ", "), *dir)
	return nil
}
