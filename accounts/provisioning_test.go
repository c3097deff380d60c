package accounts

import (
	"context"
	"testing"
	"time"
)

func TestProvisioningQueue(t *testing.T) {
	for _, d := range driversUnderTest {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, d, d.newDB(t))
			a := mustCreate(t, s, "p@example.com")
			queued := time.Now()
			if err := s.EnqueueProvisioning(ctx, a.ID, "scaleway", queued); err != nil {
				t.Fatal(err)
			}
			if err := s.EnqueueProvisioning(ctx, a.ID, "scaleway", queued); err != nil {
				t.Fatalf("enqueue twice: %v", err)
			}
			if p, _ := s.PendingProvisioning(ctx, a.ID); len(p) != 1 || p[0] != "scaleway" {
				t.Fatalf("pending: %v", p)
			}
			now := queued.Add(time.Second)
			jobs, err := s.ClaimProvisioning(ctx, now, time.Minute, 10)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("claim: %v %v", jobs, err)
			}
			if again, _ := s.ClaimProvisioning(ctx, now, time.Minute, 10); len(again) != 0 {
				t.Fatalf("leased job claimed again: %v", again)
			}
			if err := s.RetryProvisioning(ctx, jobs[0], now.Add(time.Minute), "console answered 503"); err != nil {
				t.Fatal(err)
			}
			if early, _ := s.ClaimProvisioning(ctx, now.Add(30*time.Second), time.Minute, 10); len(early) != 0 {
				t.Fatalf("job due before its retry time: %v", early)
			}
			jobs, _ = s.ClaimProvisioning(ctx, now.Add(2*time.Minute), time.Minute, 10)
			if len(jobs) != 1 || jobs[0].Attempts != 1 || jobs[0].LastError != "console answered 503" {
				t.Fatalf("retried job: %+v", jobs)
			}
			if err := s.FinishProvisioning(ctx, jobs[0], "scw-42", now); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishProvisioning(ctx, jobs[0], "scw-42", now); err != nil {
				t.Fatalf("finish twice: %v", err)
			}
			cas, _ := s.ConsoleAccounts(ctx, a.ID)
			if len(cas) != 1 || cas[0].ExternalID != "scw-42" {
				t.Fatalf("console accounts: %+v", cas)
			}
			if p, _ := s.PendingProvisioning(ctx, a.ID); len(p) != 0 {
				t.Fatalf("pending after finish: %v", p)
			}
		})
	}
}
