// Package e2e holds Mapdrive's system test: the real m365sim, the real
// mapdrive-service on PostgreSQL and the real mapdrive agent with a FUSE
// mount, each built from source and run as its own process, talking to
// each other over HTTPS and the agent's local API exactly as in
// production. It has no code outside its tests.
package e2e
