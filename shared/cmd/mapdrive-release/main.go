// Command mapdrive-release prints the release identifiers that package
// shared/version defines, for scripts/dist.sh, so that the shell script
// never computes them itself:
//
//	mapdrive-release product-code VERSION   the MSI ProductCode, no braces
//	mapdrive-release msi-version VERSION    the MSI ProductVersion (x.y.z)
//	mapdrive-release upgrade-code           the MSI UpgradeCode, no braces
package main

import (
	"fmt"
	"os"

	"github.com/mapdrive/mapdrive/shared/version"
)

func main() {
	out, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mapdrive-release:", err)
		os.Exit(2)
	}
	fmt.Println(out)
}

func run(args []string) (string, error) {
	switch {
	case len(args) == 2 && args[0] == "product-code":
		return version.ProductCode(args[1]), nil
	case len(args) == 2 && args[0] == "msi-version":
		return version.MSIVersion(args[1]), nil
	case len(args) == 1 && args[0] == "upgrade-code":
		return version.UpgradeCode, nil
	}
	return "", fmt.Errorf("usage: mapdrive-release product-code VERSION | msi-version VERSION | upgrade-code")
}
