package trayapp

import (
	"testing"

	"github.com/mapdrive/mapdrive/shared/hermetic"
)

// The real-window test starts the tray and the agent, which read
// MAPDRIVE_* settings: a shell's (demo/env.sh points at the demo's
// service and socket) must not reach them. The test's own variables
// for its child are MAPDRIVE_TEST_*, which are kept.
func TestMain(m *testing.M) { hermetic.Main(m) }

// TestHermetic proves TestMain clears the shell's MAPDRIVE_* settings.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }
