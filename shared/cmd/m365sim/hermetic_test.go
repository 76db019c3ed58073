package main

import (
	"testing"

	"github.com/mapdrive/mapdrive/shared/hermetic"
)

// The tests start the m365sim binary: like every harness that starts the
// project's binaries, they run without a shell's MAPDRIVE_* settings.
func TestMain(m *testing.M) { hermetic.Main(m) }

// TestHermetic proves TestMain clears the shell's MAPDRIVE_* settings.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }
