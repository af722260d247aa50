// Command wincon is Windows e2e scaffolding run under Wine: "ping" proves a
// Go Windows binary starts in the prefix, "ctrlc" starts a program in its own
// console and interrupts it the way a user's Ctrl-C (or Ctrl-Break) does,
// through GenerateConsoleCtrlEvent, then reports the program's exit code.
// Not part of the product.
package main
