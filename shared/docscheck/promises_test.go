package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the repository, two levels above this package.
var repoRoot = filepath.Join("..", "..")

var (
	// linkRE is a cell's link to a file: [`path`](path).
	linkRE = regexp.MustCompile("\\[`[^`]+`\\]\\(([^)#]+)\\)")
	// testNameRE is a test named in backquotes.
	testNameRE = regexp.MustCompile("`((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)`")
	// bareLinkRE is a test name that is itself the link: [`TestX`](path).
	bareLinkRE = regexp.MustCompile("\\[`((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)`\\]\\(([^)#]+)\\)")
)

// proof is one test a promise names, with the file the README links it to.
type proof struct {
	promise, file, test string
}

// promises parses the README's "Security and data-protection promises"
// table: in each row's "Proved by" cell, every backquoted test name
// belongs to the file linked last before it.
func promises(t *testing.T, readme string) []proof {
	t.Helper()
	_, table, ok := strings.Cut(readme, "## Security and data-protection promises")
	if !ok {
		t.Fatal("README.md has no \"Security and data-protection promises\" section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var out []proof
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) != 2 || strings.HasPrefix(line, "| Promise") {
			continue
		}
		promise, proved := strings.TrimPrefix(cells[0], "| "), cells[1]
		file := ""
		for len(proved) > 0 {
			l, n := linkRE.FindStringSubmatchIndex(proved), testNameRE.FindStringSubmatchIndex(proved)
			switch {
			case l != nil && (n == nil || l[0] < n[0]):
				file = proved[l[2]:l[3]]
				proved = proved[l[1]:]
			case n != nil:
				if file == "" {
					t.Errorf("promise %q names %s before linking any file", promise, proved[n[2]:n[3]])
				}
				out = append(out, proof{promise, file, proved[n[2]:n[3]]})
				proved = proved[n[1]:]
			default:
				proved = ""
			}
		}
	}
	return out
}

// TestPromisesNameExistingTests: every test the README's promises table
// names exists, under that name, in the file the table links it to; and
// every promise names at least one test.
func TestPromisesNameExistingTests(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	proofs := promises(t, string(readme))
	perPromise := map[string]int{}
	for _, p := range proofs {
		perPromise[p.promise]++
		src, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p.file)))
		if err != nil {
			t.Errorf("promise %q: %s links %s: %v", short(p.promise), p.test, p.file, err)
			continue
		}
		if !declares(string(src), p.test) {
			t.Errorf("promise %q: %s has no func %s", short(p.promise), p.file, p.test)
		}
	}
	if len(perPromise) < 10 {
		t.Errorf("read %d promises naming tests from README.md, want the whole table (at least 10): %v", len(perPromise), perPromise)
	}
	t.Logf("%d tests named by %d promises, each found in its file", len(proofs), len(perPromise))
}

// TestREADMETestLinks: a test the README links by its own name, anywhere,
// exists in the linked file.
func TestREADMETestLinks(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ms := bareLinkRE.FindAllStringSubmatch(string(readme), -1)
	if len(ms) == 0 {
		t.Fatal("README.md links no test by name: the pattern is out of date")
	}
	for _, m := range ms {
		src, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(m[2])))
		if err != nil || !declares(string(src), m[1]) {
			t.Errorf("README.md links %s to %s, which has no such test (%v)", m[1], m[2], err)
		}
	}
}

// declares reports whether Go source src declares the function name.
func declares(src, name string) bool {
	return regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`).MatchString(src)
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestPromisesParser: the parser gives each test the file linked before
// it, so a test moved to another file is caught.
func TestPromisesParser(t *testing.T) {
	readme := "## Security and data-protection promises\n\n| Promise | Proved by |\n|---|---|\n" +
		"| P1 | [`a/x_test.go`](a/x_test.go) `TestA`, `TestB` (notes); [`b/y_test.go`](b/y_test.go) `TestC` |\n" +
		"| P2 | [`c/z_test.go`](c/z_test.go) `FuzzD` |\n\n## Next\n| X | [`q.go`](q.go) `TestNot` |\n"
	got := promises(t, readme)
	want := []proof{{"P1", "a/x_test.go", "TestA"}, {"P1", "a/x_test.go", "TestB"}, {"P1", "b/y_test.go", "TestC"}, {"P2", "c/z_test.go", "FuzzD"}}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("proof %d = %v, want %v", i, got[i], want[i])
		}
	}
}
