// Package unify is the account unification (CONTRACT §8): it reads the
// Dedibox and Scaleway exports, applies the rules of the unification FAQ,
// writes one unified account per person with its console accounts, second
// factors, organizations, source lines and notification, and reports what
// it did; Verify proves afterwards that every source record is accounted
// for.
//
// A run reads the files twice. The first pass (index.go) checks every line
// and keeps only fixed-size keys per record, then groups the records into
// unified accounts. The second (run.go) reads each group's lines back,
// applies the rules (rules.go) and writes the accounts in batches, one
// transaction each, through the account store (accounts.UnifyWrite).
// Memory depends on the number of records, not on their size, and the ids
// written derive from the records, so that a run can be stopped at any
// point and run again to the same end.
package unify
