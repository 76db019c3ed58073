package portal

// SyncBuffer lets the browser tests, which run the whole service through
// the cli package in package portal_test (cli imports portal, so package
// portal's own tests cannot import cli), share the log sink.
type SyncBuffer = syncBuffer
