package storetest

import (
	"context"
	"errors"
	"testing"
)

// Setup is the lifecycle part of a backend that RunSetup checks: the
// one-time steps and the readiness ping (store.Backend has both; the
// interface is repeated here because store imports the backends, whose
// tests import this package).
type Setup interface {
	Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error)
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
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Errorf("Ping of an open backend: %v", err)
		}
	})
}
