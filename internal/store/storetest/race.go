package storetest

import "sync"

// atOnce runs op from n goroutines (goroutine i passes i), released
// together so that their calls overlap as much as the scheduler allows,
// and returns each one's error by i.
func atOnce(n int, op func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = op(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
