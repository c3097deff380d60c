package mail

import (
	"context"
	"fmt"
	"testing"
	"time"

	"unigate/mail/mailtest"
)

// BenchmarkSenderThroughput is one replica's sender with no rate limit
// (mail.rate_per_second: 0), on the real outbox, handing b.N unification
// notices (stored as data, rendered when sent, the bulk case) to a local
// SMTP sink: what the sender itself can do, the bound under any cap.
// bench/mail.sh runs it with a fixed count; it reports mails/s.
func BenchmarkSenderThroughput(b *testing.B) {
	for _, d := range storeDrivers {
		b.Run(d.name, func(b *testing.B) {
			store := openOutbox(b, d.name, d.newDB(b))
			sink := mailtest.StartSink(b)
			smtp, err := NewSMTP(SMTPConfig{Host: sink.Host, Port: sink.Port, TLS: TLSNone, From: "no-reply@example.com"})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range b.N {
				to := fmt.Sprintf("bulk-%d@example.com", i)
				m, err := NewStoredMessage(fmt.Sprint("bulk:", i), "", KindUnifyNotice, "en", to,
					UnifyNoticeData{Email: to, NothingChanges: true, SignInURL: "https://account.example.com/login"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := store.EnqueueMail(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			s := mustSender(b, store, smtp, SenderOptions{Renderer: mustRenderer(b)})
			b.ResetTimer()
			start := time.Now()
			for sink.Count() < b.N {
				if s.sendDue(ctx) == 0 {
					b.Fatalf("nothing left to claim after %d of %d", sink.Count(), b.N)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mails/s")
		})
	}
}
