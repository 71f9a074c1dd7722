package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Setup is the lifecycle part of a backend that RunSetup checks: the
// one-time steps and the readiness ping (store.Backend has both; the
// interface is repeated here because store imports the backends, whose
// tests import this package).
type Setup interface {
	Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error)
	Exclusive(ctx context.Context, name string, fn func(context.Context) error) error
	Ping(ctx context.Context) error
}

// RunSetup runs the suite of one-time steps and Ping. open must return a
// new, empty backend for each call; subtests run in parallel.
func RunSetup(t *testing.T, open func(t *testing.T) Setup) {
	t.Run("OnceRunsOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		calls := 0
		step := func(context.Context) error { calls++; return nil }
		for i, want := range []bool{true, false, false} {
			ran, err := s.Once(t.Context(), "sample-articles", step)
			if err != nil || ran != want {
				t.Errorf("Once call %d = %v, %v; want %v", i+1, ran, err, want)
			}
		}
		if calls != 1 {
			t.Errorf("the step ran %d times, want once", calls)
		}
		// Steps are independent of each other.
		if ran, err := s.Once(t.Context(), "admin-api-key", step); err != nil || !ran || calls != 2 {
			t.Errorf("another step: ran %v, %v (calls %d); want it run", ran, err, calls)
		}
	})
	t.Run("FailedStepIsNotRecorded", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		boom := errors.New("disk full")
		if ran, err := s.Once(t.Context(), "step", func(context.Context) error { return boom }); !errors.Is(err, boom) || ran {
			t.Fatalf("Once with a failing step = %v, %v; want false, %v", ran, err, boom)
		}
		ran, err := s.Once(t.Context(), "step", func(context.Context) error { return nil })
		if err != nil || !ran {
			t.Errorf("Once after a failure = %v, %v; want the step run again", ran, err)
		}
	})
	// Replicas starting together on a new database: the step runs once,
	// and every caller returns only after it is done (none goes on to
	// serve before the samples are in).
	t.Run("OnceRunsOnceWhenCalledTogether", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var calls, finished atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.Once(t.Context(), "sample-articles", func(ctx context.Context) error {
					calls.Add(1)
					// A step writes through the same database (the
					// samples do): it must get a connection while the
					// others wait for it.
					if err := s.Ping(ctx); err != nil {
						return err
					}
					time.Sleep(50 * time.Millisecond) // long enough for the others to arrive
					finished.Add(1)
					return nil
				})
				if err != nil {
					t.Errorf("Once: %v", err)
				}
				if finished.Load() != 1 {
					t.Errorf("Once returned before the step finished")
				}
			})
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("8 concurrent Once calls ran the step %d times, want 1", n)
		}
	})
	// What the first-run admin key relies on: inside Exclusive nobody
	// else is, so "none exists, create one" happens once.
	t.Run("ExclusiveExcludes", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var inside, most, created atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.Exclusive(t.Context(), "admin-api-key", func(ctx context.Context) error {
					if err := s.Ping(ctx); err != nil { // as the admin key's List and Create do
						return err
					}
					n := inside.Add(1)
					defer inside.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					if created.Load() == 0 {
						time.Sleep(20 * time.Millisecond) // the window a check-then-create has
						created.Add(1)
					}
					return nil
				})
				if err != nil {
					t.Errorf("Exclusive: %v", err)
				}
			})
		}
		wg.Wait()
		if most.Load() != 1 || created.Load() != 1 {
			t.Errorf("Exclusive let %d callers in at once and %d created; want 1 and 1", most.Load(), created.Load())
		}
		boom := errors.New("boom")
		if err := s.Exclusive(t.Context(), "admin-api-key", func(context.Context) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Exclusive returned %v, want fn's error", err)
		}
	})
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Errorf("Ping of an open backend: %v", err)
		}
	})
}
