package access

import "fmt"

// Error is a refusal of the decision itself, named by its contract code
// (the edge's one error table gives its status and message).
type Error struct {
	Code string
	Err  error // logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("access: %s: %v", e.Code, e.Err)
	}
	return "access: " + e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode is the contract code: the edge maps it to a status.
func (e *Error) ErrorCode() string { return e.Code }

// ErrInvalidPath: the path has no canonical form, or is not canonical and
// the method cannot be redirected (CONTRACT §3): 400 invalid_path.
var ErrInvalidPath = &Error{Code: "invalid_path"}

// unavailable: the session store did not answer; fail closed (ASVS V16.5.2).
func unavailable(err error) error { return &Error{Code: "unavailable", Err: err} }
