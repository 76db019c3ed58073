package mountdriver

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func check() (Presence, error) {
	return findLib(linuxLibfuse, libDirs(os.Getenv("LD_LIBRARY_PATH"), "/etc/ld.so.conf"))
}

// findLib reports whether name is in one of dirs.
func findLib(name string, dirs []string) (Presence, error) {
	var errs []error
	for _, d := range dirs {
		_, err := os.Stat(filepath.Join(d, name))
		if err == nil {
			return Installed, nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Unknown, fmt.Errorf("look for %s: %w", name, errors.Join(errs...))
	}
	return Missing, nil
}

// libDirs is where dlopen looks for a bare library name: LD_LIBRARY_PATH,
// the directories of ld.so.conf (and the files it includes), then the
// default directories, multiarch ones included.
func libDirs(ldLibraryPath, ldSoConf string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(ldLibraryPath) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, confDirs(ldSoConf, 0)...)
	for _, base := range []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"} {
		dirs = append(dirs, base)
		if multi, _ := filepath.Glob(base + "/*-linux-gnu*"); len(multi) > 0 {
			dirs = append(dirs, multi...)
		}
	}
	return dirs
}

// confDirs reads an ld.so.conf: one directory a line, "include" globs.
func confDirs(path string, depth int) []string {
	if depth > 4 { // an include loop
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include "):
			pat := strings.TrimSpace(strings.TrimPrefix(line, "include "))
			if !filepath.IsAbs(pat) {
				pat = filepath.Join(filepath.Dir(path), pat)
			}
			files, _ := filepath.Glob(pat)
			for _, inc := range files {
				dirs = append(dirs, confDirs(inc, depth+1)...)
			}
		default:
			dirs = append(dirs, line)
		}
	}
	return dirs
}
