// Package repotest holds tests about the repository itself: every package
// has a doc comment, and the dependency rules of docs/style.md hold (the
// probe never imports the agent or an engine SDK; the agent never imports
// probe internals; only the cli package imports the CLI library).
package repotest
