//go:build race

package main

// raceEnabled says the test binary, and so every child it starts as
// mcp-2coffee, runs under the race detector, whose shadow memory makes
// resident-memory measurements meaningless.
const raceEnabled = true
