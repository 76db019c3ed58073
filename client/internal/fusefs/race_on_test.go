//go:build race

package fusefs

// raceEnabled reports whether the race detector is on (it multiplies
// memory use, so the in-memory round trip shrinks).
const raceEnabled = true
