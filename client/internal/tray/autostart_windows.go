//go:build windows

package tray

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const (
	runKey   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "Mapdrive"
)

func (a Autostart) key() string {
	if a.Dir != "" {
		return a.Dir
	}
	return runKey
}

func (a Autostart) where() string { return `HKCU\` + a.key() + `\` + runValue }

func (a Autostart) enabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, a.key(), registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s: %w", a.key(), err)
	}
	defer k.Close()
	_, _, err = k.GetStringValue(runValue)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", a.where(), err)
	}
	return true, nil
}

func (a Autostart) set(on bool) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, a.key(), registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open %s: %w", a.key(), err)
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue(runValue); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", a.where(), err)
		}
		return nil
	}
	if err := k.SetStringValue(runValue, `"`+a.Exe+`" `+AtLoginFlag); err != nil {
		return fmt.Errorf("write %s: %w", a.where(), err)
	}
	return nil
}
