// Package docscheck holds tests that keep the repository's documents
// honest about its tests: each test the README names, in its promises
// table above all, must exist where the README says it is.
package docscheck
