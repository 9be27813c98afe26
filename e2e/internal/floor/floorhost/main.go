// Command floorhost is the floor host of the benchmarks: it answers every
// providerToken.getToken on stdin with a fixed token on stdout, and does
// nothing else (see package floor).
package main

import (
	"fmt"
	"os"

	"github.com/tokenhost/tokenhost/e2e/internal/floor"
)

func main() {
	if err := floor.Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floorhost:", err)
		os.Exit(1)
	}
}
