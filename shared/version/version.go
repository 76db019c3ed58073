// Package version is the one definition of what identifies a Mapdrive
// release: the version stamped into every binary, and the Windows Installer
// identity derived from it (the UpgradeCode shared by every MSI, the
// ProductCode and ProductVersion of each one). scripts/dist.sh (through
// shared/cmd/mapdrive-release), the service's deployment page and the
// release tests all take these from here, so an Intune detection rule
// written from the portal names the package dist.sh built.
package version

// Version is the release version, x.y.z[-pre], from the repository's
// VERSION file: the Makefile, scripts/dist.sh and the service image set it
// with -ldflags "-X github.com/mapdrive/mapdrive/shared/version.Version=...".
// A binary built without that flag reports "dev".
var Version = "dev"
