// Package layout has no code: its tests walk every package of the module and
// hold the import rules of DESIGN.md ("Packages"): dependencies point down,
// the domain packages (login, access, account) stay free of the edge and of
// net/http, and a package the rules do not know fails the test until someone
// decides where it belongs.
package layout
