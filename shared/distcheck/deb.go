package distcheck

import (
	"context"
	"fmt"
	"strings"
)

// DebFields reads the control fields of a .deb with `dpkg-deb -f`.
// Continuation lines are joined to their field with a newline.
func DebFields(ctx context.Context, deb string) (map[string]string, error) {
	out, err := Output(ctx, "dpkg-deb", "-f", deb)
	if err != nil {
		return nil, fmt.Errorf("control fields of %s: %w", deb, err)
	}
	return ParseControl(out), nil
}

// ParseControl parses one deb822 paragraph.
func ParseControl(s string) map[string]string {
	fields := map[string]string{}
	last := ""
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && last != "" {
			fields[last] += "\n" + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		fields[last] = strings.TrimSpace(v)
	}
	return fields
}

// DebFile is one entry of a .deb's data archive.
type DebFile struct {
	Mode  string // e.g. -rwxr-xr-x
	Owner string // e.g. root/root
	Path  string // absolute, e.g. /usr/bin/mapdrive
}

// DebContents lists a .deb's files with `dpkg-deb -c`.
func DebContents(ctx context.Context, deb string) ([]DebFile, error) {
	out, err := Output(ctx, "dpkg-deb", "-c", deb)
	if err != nil {
		return nil, fmt.Errorf("contents of %s: %w", deb, err)
	}
	return ParseDebContents(out), nil
}

// ParseDebContents parses `dpkg-deb -c` (tar -tv) lines: mode, owner,
// size, date, time, path.
func ParseDebContents(s string) []DebFile {
	var files []DebFile
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		p := strings.Join(f[5:], " ")
		if i := strings.Index(p, " -> "); i >= 0 {
			p = p[:i]
		}
		p = "/" + strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
		files = append(files, DebFile{Mode: f[0], Owner: f[1], Path: p})
	}
	return files
}
