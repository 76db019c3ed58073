package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/mapdrive/mapdrive/client/internal/privfile"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// userSettings is what the tray or CLI changed, kept in the state
// directory. It overrides the configuration's cache_max_gb and autostart.
type userSettings struct {
	CacheMaxGB *float64      `json:"cache_max_gb,omitempty"`
	Autostart  *bool         `json:"autostart,omitempty"`
	Pins       []apitype.Pin `json:"pins"`
}

func (a *Agent) settingsPath() string { return filepath.Join(a.o.Config.StateDir, "settings.json") }

// loadSettings applies the stored user settings (called from New).
func (a *Agent) loadSettings() {
	if a.o.Config.StateDir == "" {
		return
	}
	data, err := os.ReadFile(a.settingsPath())
	if err != nil {
		return
	}
	var u userSettings
	if err := json.Unmarshal(data, &u); err != nil {
		a.log.Warn("ignoring unreadable settings file", "err", err)
		return
	}
	if u.CacheMaxGB != nil {
		a.st.settings.CacheMaxGB = *u.CacheMaxGB
	}
	if u.Autostart != nil {
		a.st.settings.Autostart = *u.Autostart
	}
	if u.Pins != nil {
		a.st.settings.Pins = u.Pins
	}
}

func (a *Agent) saveSettingsLocked() {
	if a.o.Config.StateDir == "" {
		return
	}
	s := a.st.settings
	u := userSettings{CacheMaxGB: &s.CacheMaxGB, Autostart: &s.Autostart, Pins: s.Pins}
	data, _ := json.MarshalIndent(u, "", "  ")
	if err := privfile.Write(a.settingsPath(), data); err != nil {
		a.log.Warn("could not save settings", "err", err)
	}
}

func (a *Agent) settingsLocked() apitype.Settings {
	s := a.st.settings
	s.Pins = append([]apitype.Pin{}, s.Pins...)
	return s
}

// Settings implements localapi.Settings.
func (a *Agent) Settings(ctx context.Context) (apitype.Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settingsLocked(), nil
}

// UpdateSettings implements localapi.Settings. A new cache size applies to
// drives mounted from now on.
func (a *Agent) UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u.CacheMaxGB != nil {
		a.st.settings.CacheMaxGB = *u.CacheMaxGB
	}
	if u.Autostart != nil {
		a.st.settings.Autostart = *u.Autostart
	}
	a.saveSettingsLocked()
	a.changedLocked()
	return a.settingsLocked(), nil
}
