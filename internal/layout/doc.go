// Package layout has no code: its test keeps the dependency direction of
// DESIGN.md (packages import only those below them).
package layout
