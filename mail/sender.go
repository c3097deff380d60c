package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"unigate/accounts"
)

// Results passed to SenderOptions.OnResult, one per delivery attempt.
const (
	ResultSent   = "sent"    // the transport took the message
	ResultRetry  = "retry"   // it failed and will be tried again after a backoff
	ResultGaveUp = "gave_up" // it failed for good (permanent error or MaxAttempts)
)

// SenderOptions configures NewSender. Every zero value means its default.
type SenderOptions struct {
	// Logger receives one line per failure (never message content); nil
	// means slog.Default.
	Logger *slog.Logger
	// Now is the clock of claims, leases and backoff; nil means time.Now.
	Now func() time.Time
	// PollEvery is how often the outbox is looked at without a Poke; 1s.
	PollEvery time.Duration
	// Lease is how long a claimed message is held before another replica
	// may take it over; 1m. It must exceed the transport's timeout, or a
	// slow delivery could be sent a second time by another replica.
	Lease time.Duration
	// MaxAttempts is the number of failed deliveries after which a message is
	// given up (kept in the outbox, no longer pending); 10.
	MaxAttempts int
	// Backoff is the wait after the attempt-th failure (1, 2, …); nil means
	// 5s·2^(attempt-1), at most 1h, less up to half of it at random so that
	// messages failed together are not retried together.
	Backoff func(attempt int) time.Duration
	// Concurrency is how many messages are delivered at once (and claimed at
	// a time); 4.
	Concurrency int
	// Renderer renders the messages stored as data (NewStoredMessage) when
	// they are sent; without one, such a message is given up.
	Renderer *Renderer
	// OnResult, when set, is called after each attempt with the message's
	// kind and one of ResultSent, ResultRetry, ResultGaveUp: the metrics hook.
	OnResult func(kind, result string)
	// Sealer opens the bodies an Outbox with the same Sealer sealed; without
	// one, a sealed message is given up.
	Sealer Sealer
	// Limiter caps the messages handed to the transport
	// (mail.rate_per_second: a RedisLimiter shared by the replicas); nil
	// for no cap.
	Limiter Limiter
}

// Sender delivers the outbox: it claims due messages, hands each to the
// Transport and records the outcome. Several replicas may each run one on
// the same store (see accounts.OutboxStore.ClaimMail).
type Sender struct {
	store       accounts.OutboxStore
	transport   Transport
	log         *slog.Logger
	now         func() time.Time
	pollEvery   time.Duration
	lease       time.Duration
	maxAttempts int
	backoff     func(int) time.Duration
	concurrency int
	onResult    func(kind, result string)
	renderer    *Renderer
	sealer      Sealer
	limiter     Limiter

	poke chan struct{}
	// storeDown remembers that the last claim failed, so that an outage is
	// logged when it starts and ends, not once a second; limiterDown the
	// same of the rate limit's bucket.
	storeDown, limiterDown bool
}

// NewSender validates opts and fills their defaults.
func NewSender(store accounts.OutboxStore, t Transport, opts SenderOptions) (*Sender, error) {
	if store == nil || t == nil {
		return nil, errors.New("mail: NewSender: a store and a transport are required")
	}
	if opts.PollEvery < 0 || opts.Lease < 0 || opts.MaxAttempts < 0 || opts.Concurrency < 0 {
		return nil, errors.New("mail: NewSender: negative option")
	}
	s := &Sender{
		store:       store,
		transport:   t,
		log:         opts.Logger,
		now:         opts.Now,
		pollEvery:   opts.PollEvery,
		lease:       opts.Lease,
		maxAttempts: opts.MaxAttempts,
		backoff:     opts.Backoff,
		concurrency: opts.Concurrency,
		onResult:    opts.OnResult,
		renderer:    opts.Renderer,
		sealer:      opts.Sealer,
		limiter:     opts.Limiter,
		poke:        make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.pollEvery == 0 {
		s.pollEvery = time.Second
	}
	if s.lease == 0 {
		s.lease = time.Minute
	}
	if s.maxAttempts == 0 {
		s.maxAttempts = 10
	}
	if s.backoff == nil {
		s.backoff = DefaultBackoff
	}
	if s.concurrency == 0 {
		s.concurrency = 4
	}
	if s.onResult == nil {
		s.onResult = func(string, string) {}
	}
	return s, nil
}

// DefaultBackoff waits 5s·2^(attempt-1), at most 1h, less a random part of
// up to half of it.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Hour
	if attempt < 12 { // 5s·2^11 > 1h
		d = min(5*time.Second<<max(attempt-1, 0), time.Hour)
	}
	return d - rand.N(d/2+1)
}

// Run delivers until ctx ends, then returns nil. It sends what is due at
// once, then whenever Poke is called and every PollEvery. Store and
// transport failures are logged and retried, never returned: a database or
// relay outage must not stop the sender. Run one Run per Sender.
func (s *Sender) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.poke:
		case <-timer.C:
		}
		s.sendDue(ctx)
		timer.Reset(s.pollEvery)
	}
}

// Poke makes Run look at the outbox now rather than at its next poll: call it
// right after enqueueing a code someone is waiting for. It never blocks.
func (s *Sender) Poke() {
	select {
	case s.poke <- struct{}{}:
	default: // a poke is already pending
	}
}

// sendDue claims and delivers until nothing is due. It returns how many
// messages it claimed.
//
// Under a rate limit each claim waits first for its sends to be granted:
// what is claimed is sent at once, never held leased while the bucket
// refills, and every claim picks the most urgent messages of that moment,
// so a code queued behind a million bulk notices is claimed by the next
// claim of any replica (the outbox orders claims by priority). When the
// bucket cannot be reached nothing is claimed: the cap fails closed, and
// sending resumes when it is back.
func (s *Sender) sendDue(ctx context.Context) int {
	claimed := 0
	limit := s.concurrency
	for ctx.Err() == nil {
		if s.limiter != nil {
			limit = s.grantedSends(ctx)
			if limit == 0 {
				return claimed
			}
		}
		batch, err := s.store.ClaimMail(ctx, s.now(), s.lease, limit)
		if err != nil {
			if ctx.Err() == nil && !s.storeDown {
				s.log.LogAttrs(ctx, slog.LevelError, "mail: cannot claim from the outbox; retrying", slog.Any("err", err))
			}
			s.storeDown = true
			return claimed
		}
		if s.storeDown {
			s.log.LogAttrs(ctx, slog.LevelInfo, "mail: outbox reachable again")
			s.storeDown = false
		}
		claimed += len(batch)
		var wg sync.WaitGroup
		for _, m := range batch {
			wg.Go(func() { s.deliver(ctx, m) })
		}
		wg.Wait()
		// A short claim ends the pass only when it is empty: another
		// replica's claim at the same moment can leave this one short
		// while much more is due, and waiting for the next poll would
		// lose a second of sending.
		if len(batch) == 0 {
			return claimed
		}
	}
	return claimed
}

// grantedSends waits on the limiter for the sends of one claim and returns
// how many were granted: the concurrency, at most the limiter's burst when
// it has one (so that an idle sender's polls take little of the rate), or 0
// when the limiter failed.
func (s *Sender) grantedSends(ctx context.Context) int {
	n := max(1, min(s.concurrency, s.limiter.Burst()))
	if err := s.limiter.Wait(ctx, n); err != nil {
		if ctx.Err() == nil && !s.limiterDown {
			s.log.LogAttrs(ctx, slog.LevelError, "mail: rate limit unavailable; sending nothing until it is back", slog.Any("err", err))
		}
		s.limiterDown = ctx.Err() == nil
		return 0
	}
	if s.limiterDown {
		s.log.LogAttrs(ctx, slog.LevelInfo, "mail: rate limit reachable again")
		s.limiterDown = false
	}
	return n
}

// deliver sends one claimed message and records the outcome. The record is
// written even when ctx has just ended (shutdown): otherwise a message that
// went out would stay leased and be sent again when the lease ends.
func (s *Sender) deliver(ctx context.Context, m accounts.OutboxMessage) {
	raw, sendErr := s.body(m)
	if sendErr == nil {
		sendErr = s.transport.Send(withKind(ctx, m.Kind), m.To, raw)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now()
	attrs := []slog.Attr{slog.String("id", m.ID), slog.String("kind", m.Kind), slog.String("to_domain", recipientDomain(m.To))}

	if sendErr == nil {
		if err := s.store.MarkMailSent(rctx, m.ID, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "mail: sent but not recorded; it may be sent again when its lease ends",
				append(attrs, slog.Any("err", err))...)
		}
		s.onResult(m.Kind, ResultSent)
		return
	}

	attempts := m.Attempts + 1
	attrs = append(attrs, slog.Int("attempts", attempts), slog.Any("err", sendErr))
	var next time.Time // zero: give up
	result, level, msg := ResultGaveUp, slog.LevelError, "mail: given up"
	switch {
	case errors.Is(sendErr, ErrPermanent):
		msg = "mail: given up: permanent failure"
	case ctx.Err() != nil:
		// Interrupted by shutdown: due again at once, for another replica.
		next, result, level, msg = now, ResultRetry, slog.LevelWarn, "mail: interrupted; will retry"
	case attempts >= s.maxAttempts:
		msg = fmt.Sprintf("mail: given up after %d attempts", attempts)
	default:
		next = now.Add(s.backoff(attempts))
		result, level, msg = ResultRetry, slog.LevelWarn, "mail: delivery failed; will retry"
		attrs = append(attrs, slog.Time("next", next))
	}
	if err := s.store.MarkMailFailed(rctx, m.ID, next, sendErr.Error()); err != nil {
		attrs = append(attrs, slog.Any("record_err", err))
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
	s.onResult(m.Kind, result)
}

// body is m's message: as stored (opened when sealed), or rendered now from
// its data. A message that cannot be opened or rendered never will be: a
// permanent failure.
func (s *Sender) body(m accounts.OutboxMessage) ([]byte, error) {
	if len(m.Raw) > 0 || len(m.Data) == 0 {
		raw, err := openBody(s.sealer, m.Key, m.To, m.Raw)
		if err != nil {
			return nil, fmt.Errorf("%w: opening the sealed body: %v", ErrPermanent, err)
		}
		return raw, nil
	}
	if s.renderer == nil {
		return nil, fmt.Errorf("%w: a message stored as data and no renderer to render it", ErrPermanent)
	}
	raw, err := s.renderer.RenderStored(m.Kind, m.Locale, m.To, m.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: rendering: %v", ErrPermanent, err)
	}
	return raw, nil
}

// Queue renders a message and puts it in the outbox under key, which makes
// it idempotent: it reports false, and enqueues nothing, when a message with
// that key was queued before (sent or not). Call the Sender's Poke after it
// when someone waits for the message.
//
// The body is stored in clear: the gateway queues through an Outbox, which
// seals it.
func Queue(ctx context.Context, store accounts.OutboxStore, r *Renderer, key, accountID, kind, locale, to string, data any) (bool, error) {
	return queue(ctx, store, r, nil, key, accountID, kind, locale, to, data)
}

// queue is Queue, the body sealed with sealer unless it is nil.
func queue(ctx context.Context, store accounts.OutboxStore, r *Renderer, sealer Sealer, key, accountID, kind, locale, to string, data any) (bool, error) {
	raw, err := r.Render(kind, locale, to, data)
	if err != nil {
		return false, err
	}
	if sealer != nil {
		raw = sealBody(sealer, key, to, raw)
	}
	queued, err := store.EnqueueMail(ctx, &accounts.OutboxMessage{
		Key:       key,
		AccountID: accountID,
		To:        to,
		Kind:      kind,
		Priority:  kinds[kind].priority,
		Raw:       raw,
	})
	if err != nil {
		return false, fmt.Errorf("mail: queue %s: %w", kind, err)
	}
	return queued, nil
}

// Outbox queues messages for the gateway: render, enqueue in the account
// store's outbox, and wake the sender, so a login code leaves within
// milliseconds yet survives a restart.
type Outbox struct {
	Store    accounts.OutboxStore
	Renderer *Renderer
	Sender   *Sender
	// Sealer seals the bodies at rest (the Sender's SenderOptions.Sealer
	// must be the same); nil stores them in clear.
	Sealer Sealer
}

// Queue renders kind in locale for to and queues it under key (idempotent).
func (o *Outbox) Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error {
	if _, err := queue(ctx, o.Store, o.Renderer, o.Sealer, key, accountID, kind, locale, to, data); err != nil {
		return err
	}
	o.Sender.Poke()
	return nil
}
