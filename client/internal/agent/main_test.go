package agent

import (
	"testing"

	"github.com/mapdrive/mapdrive/shared/hermetic"
)

// Some tests start mapdrive-service and m365sim: a shell's MAPDRIVE_*
// (demo/env.sh sets the desktop app's MAPDRIVE_CLIENT_ID, which the
// service still honours under its old name) must not reach them.
func TestMain(m *testing.M) { hermetic.Main(m) }

// TestHermetic proves TestMain clears the shell's MAPDRIVE_* settings.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }
