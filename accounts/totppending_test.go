package accounts

import (
	"context"
	"errors"
	"testing"
)

// ConfirmPendingTOTP on both drivers: it confirms only the sealed secret it
// is given, byte for byte (issue 16 finding 10).
func TestConfirmPendingTOTP(t *testing.T) {
	runSuite(t, []suiteTest{{"ConfirmPendingTOTP", testConfirmPendingTOTP}})
}

func testConfirmPendingTOTP(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	first, second := allBytes(), append(allBytes()[1:], 0)
	for _, tc := range []struct {
		name    string
		pending []byte // put before the confirmation, nil: none
		confirm []byte
		want    error
	}{
		{"nothing pending", nil, first, ErrTOTPReplaced},
		{"a newer secret is pending", second, first, ErrTOTPReplaced},
		{"the pending secret", second, second, nil},
		{"already confirmed", nil, second, ErrMFAExists},
	} {
		if tc.pending != nil {
			if err := s.PutPendingTOTP(ctx, a.ID, first); err != nil {
				t.Fatal(err)
			}
			if err := s.PutPendingTOTP(ctx, a.ID, tc.pending); err != nil {
				t.Fatal(err)
			}
		}
		err := s.ConfirmPendingTOTP(ctx, a.ID, tc.confirm, 1000, clock.now())
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	c, err := s.TOTPCredential(ctx, a.ID)
	if err != nil || !c.Confirmed || c.LastUsedStep != 1000 {
		t.Fatalf("after confirming: %+v %v", c, err)
	}
	if err := s.ConfirmPendingTOTP(ctx, a.ID, second, 0, clock.now()); err == nil {
		t.Error("step 0 accepted")
	}
}
