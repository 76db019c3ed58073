package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes as a user config file: loading must
// return a config or an error, never panic, and an accepted file must give
// values that parse again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("client_id = \"x\"\npoll_interval = \"45s\"\ncache_max_gb = 2.5\nautostart = true\n"))
	f.Add([]byte("[section]\nkey = 1\n"))
	f.Add([]byte("graph_url = \"graph.example\"\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Loader{UserFile: path}.Load(nil)
		if err != nil {
			return
		}
		again := map[string]string{}
		for _, k := range Keys {
			if c.Sources[k] == FromFile {
				again[k] = c.Get(k)
			}
		}
		if _, err := (Loader{}).Load(again); err != nil {
			t.Errorf("values accepted from the file do not load again: %v (%v)", err, again)
		}
	})
}
