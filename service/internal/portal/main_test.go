package portal

import (
	"testing"

	"github.com/mapdrive/mapdrive/shared/hermetic"
)

// The browser tests run the whole service in-process on the real
// environment: a shell's MAPDRIVE_* must not reach it.
func TestMain(m *testing.M) { hermetic.Main(m) }

// TestHermetic proves TestMain clears the shell's MAPDRIVE_* settings.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }
