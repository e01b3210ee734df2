// An independent signed-note / checkpoint verifier for the tests: golang.org/x/mod/sumdb/note
// (Debian's golang-golang-x-mod-dev), run in GOPATH mode so no module download is needed.
//
//	go-note-verifier <verifier key>... < note
//
// Prints the verified text, then one line per verified signature ("verified <name> <key ID>"),
// and exits 1 with the error on stderr when the note does not open.
package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	var verifiers []note.Verifier
	for _, vkey := range os.Args[1:] {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad verifier key:", err)
			os.Exit(2)
		}
		verifiers = append(verifiers, v)
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(n.Text)
	for _, s := range n.Sigs {
		fmt.Printf("verified %s %08x\n", s.Name, s.Hash)
	}
}
