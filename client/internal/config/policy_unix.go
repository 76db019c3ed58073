//go:build !windows

package config

import (
	"errors"
	"io/fs"
	"runtime"
)

// PolicyFile is the machine policy file: /etc/mapdrive/config.toml, or
// /Library/Application Support/Mapdrive/config.toml on macOS.
func PolicyFile() string {
	if runtime.GOOS == "darwin" {
		return "/Library/Application Support/Mapdrive/config.toml"
	}
	return "/etc/mapdrive/config.toml"
}

func machinePolicy() (map[string]string, error) {
	raw, err := ReadFile(PolicyFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return raw, err
}
