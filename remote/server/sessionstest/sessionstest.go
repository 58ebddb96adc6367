package sessionstest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
)

// Factory returns two handles on one fresh, empty store: what one adds,
// the other sees (for an in-process store, the same value twice).
type Factory func(t *testing.T) (a, b server.SessionStore)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, open Factory) {
	ctx := context.Background()
	key := seeded(1, 0)
	ch := server.Challenge{Address: key.String(), Message: "sign in\nnonce: n1", Expires: t0.Add(5 * time.Minute)}

	t.Run("NonceSingleUse", func(t *testing.T) {
		a, b := open(t)
		if err := a.AddNonce(ctx, "n1", ch, t0); err != nil {
			t.Fatal(err)
		}
		got, ok, err := b.TakeNonce(ctx, "n1", t0.Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("take at the other handle: %v, %v", ok, err)
		}
		if got.Address != ch.Address || got.Message != ch.Message || !got.Expires.Equal(ch.Expires) {
			t.Fatalf("took %+v, added %+v", got, ch)
		}
		for _, s := range []server.SessionStore{a, b} {
			if _, ok, err := s.TakeNonce(ctx, "n1", t0.Add(time.Minute)); err != nil || ok {
				t.Fatalf("a taken nonce was taken again: %v, %v", ok, err)
			}
		}
		if _, ok, err := a.TakeNonce(ctx, "never-issued", t0); err != nil || ok {
			t.Fatalf("an unknown nonce was taken: %v, %v", ok, err)
		}
	})

	t.Run("NonceExpires", func(t *testing.T) {
		a, b := open(t)
		if err := a.AddNonce(ctx, "n2", ch, t0); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.TakeNonce(ctx, "n2", ch.Expires.Add(time.Second)); err != nil || ok {
			t.Fatalf("an expired nonce was taken: %v, %v", ok, err)
		}
		// Taking it expired used it up, whatever the clock says later.
		if _, ok, err := a.TakeNonce(ctx, "n2", t0); err != nil || ok {
			t.Fatalf("a nonce was taken after a taker found it expired: %v, %v", ok, err)
		}
		// Expired entries may be swept by any call; live ones never are.
		if err := a.AddNonce(ctx, "n3", ch, t0); err != nil {
			t.Fatal(err)
		}
		late := server.Challenge{Address: ch.Address, Message: ch.Message, Expires: t0.Add(time.Hour)}
		if err := b.AddNonce(ctx, "n4", late, t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := a.TakeNonce(ctx, "n4", t0.Add(31*time.Minute)); err != nil || !ok {
			t.Fatalf("a live nonce was lost: %v, %v", ok, err)
		}
	})

	t.Run("ConcurrentTakersOneWins", func(t *testing.T) {
		a, b := open(t)
		const nonces, takers = 20, 8
		for i := range nonces {
			if err := a.AddNonce(ctx, fmt.Sprintf("c%d", i), ch, t0); err != nil {
				t.Fatal(err)
			}
		}
		var wins [nonces]atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, nonces*takers)
		for w := range takers {
			s := a
			if w%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range nonces {
					_, ok, err := s.TakeNonce(ctx, fmt.Sprintf("c%d", i), t0)
					if err != nil {
						errs <- err
					}
					if ok {
						wins[i].Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range nonces {
			if n := wins[i].Load(); n != 1 {
				t.Errorf("nonce c%d was taken %d times by %d concurrent takers, want once", i, n, takers)
			}
		}
	})

	t.Run("SessionSharedUntilExpiry", func(t *testing.T) {
		a, b := open(t)
		s := server.Session{Key: key, Expires: t0.Add(time.Hour)}
		if err := a.AddSession(ctx, "tok-1", s, t0); err != nil {
			t.Fatal(err)
		}
		for _, st := range []server.SessionStore{a, b} {
			got, ok, err := st.Session(ctx, "tok-1", t0.Add(59*time.Minute))
			if err != nil || !ok || got.Key != key || !got.Expires.Equal(s.Expires) {
				t.Fatalf("session: %+v, %v, %v", got, ok, err)
			}
		}
		if _, ok, err := b.Session(ctx, "tok-1", s.Expires.Add(time.Second)); err != nil || ok {
			t.Fatalf("an expired session was found: %v, %v", ok, err)
		}
		if _, ok, err := a.Session(ctx, "tok-2", t0); err != nil || ok {
			t.Fatalf("an unknown token was found: %v, %v", ok, err)
		}
		// A token is not a nonce, and a nonce not a token.
		if _, ok, err := a.TakeNonce(ctx, "tok-1", t0); err != nil || ok {
			t.Fatalf("a token was taken as a nonce: %v, %v", ok, err)
		}
		if err := a.AddNonce(ctx, "n5", ch, t0); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Session(ctx, "n5", t0); err != nil || ok {
			t.Fatalf("a nonce was found as a token: %v, %v", ok, err)
		}
	})

	t.Run("SessionDeleted", func(t *testing.T) {
		a, b := open(t)
		s := server.Session{Key: key, Expires: t0.Add(time.Hour)}
		for _, tok := range []string{"tok-1", "tok-2"} {
			if err := a.AddSession(ctx, tok, s, t0); err != nil {
				t.Fatal(err)
			}
		}
		for _, st := range []server.SessionStore{a, b} { // both have read it
			if _, ok, err := st.Session(ctx, "tok-1", t0); err != nil || !ok {
				t.Fatalf("session before the sign-out: %v, %v", ok, err)
			}
		}
		if err := b.DeleteSession(ctx, "tok-1"); err != nil {
			t.Fatal(err)
		}
		if err := b.DeleteSession(ctx, "never-issued"); err != nil {
			t.Fatalf("deleting an unknown token: %v", err)
		}
		if _, ok, err := b.Session(ctx, "tok-1", t0); err != nil || ok {
			t.Fatalf("the deleting replica still takes the session: %v, %v", ok, err)
		}
		later := t0.Add(server.SessionRevokeDelay)
		if _, ok, err := a.Session(ctx, "tok-1", later); err != nil || ok {
			t.Fatalf("another replica takes a deleted session after SessionRevokeDelay: %v, %v", ok, err)
		}
		if _, ok, err := a.Session(ctx, "tok-2", later); err != nil || !ok {
			t.Fatalf("another session of the key went with it: %v, %v", ok, err)
		}
	})

	t.Run("SessionsOfManyKeys", func(t *testing.T) {
		a, b := open(t)
		keys := map[string]objects.PublicKey{}
		for i := range 50 {
			k := seeded(byte(i), 9)
			tok := fmt.Sprintf("tok-%d", i)
			keys[tok] = k
			if err := a.AddSession(ctx, tok, server.Session{Key: k, Expires: t0.Add(time.Duration(i+1) * time.Minute)}, t0); err != nil {
				t.Fatal(err)
			}
		}
		at := t0.Add(25*time.Minute + time.Second)
		for tok, k := range keys {
			var i int
			fmt.Sscanf(tok, "tok-%d", &i)
			got, ok, err := b.Session(ctx, tok, at)
			if err != nil {
				t.Fatal(err)
			}
			if live := i+1 > 25; ok != live || ok && got.Key != k {
				t.Errorf("%s at +25m1s: found %v (key %s), want found %v (key %s)", tok, ok, got.Key, live, k)
			}
		}
	})
}

func seeded(a, b byte) objects.PublicKey {
	seed := make([]byte, 32)
	seed[0], seed[1] = a, b
	return objects.KeypairFromSeed(seed).Public()
}
