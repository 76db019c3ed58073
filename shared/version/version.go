// Package version holds the one version number stamped into every Mapdrive
// binary at link time from the VERSION file.
package version

// Version is set with -ldflags "-X .../shared/version.Version=x.y.z".
var Version = "dev"
