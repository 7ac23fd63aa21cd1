//go:build race

package main

// raceEnabled: the tests run with -race, so the binary they run is
// built with it too.
const raceEnabled = true
