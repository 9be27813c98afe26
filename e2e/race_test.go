//go:build race

package e2e

// raceEnabled says the suite runs under the race detector, so the host is
// built with it too.
const raceEnabled = true
