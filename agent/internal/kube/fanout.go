package kube

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultConcurrency is how many nodes are probed at once (the
// --concurrency default).
const DefaultConcurrency = 8

// FanOutOptions bound a fan-out.
type FanOutOptions struct {
	// Concurrency is the most nodes in flight at once (DefaultConcurrency
	// when zero or less).
	Concurrency int
	// NodeTimeout is each node's own deadline (none when zero); a node
	// past it gets an ErrTimeout entry and its slot goes to the next.
	NodeTimeout time.Duration
	// CleanupGrace is how long past a node's deadline the fan-out still
	// waits for its work to return, so that the work can delete its pod
	// (DefaultCleanupGrace when zero). Work that takes longer is
	// abandoned.
	CleanupGrace time.Duration
}

// DefaultCleanupGrace leaves time for one pod deletion after a deadline.
const DefaultCleanupGrace = 5 * time.Second

// Result is one node's outcome: Value when Err is nil.
type Result[T any] struct {
	Node  string
	Value T
	Err   error
}

// FanOut runs fn for every node, at most Concurrency at once, each under
// its own deadline, and returns one result per node in the order given.
// A node that fails never stops the others. fn must honour its context
// and may then clean up (delete its pod) within CleanupGrace; work that
// takes longer is abandoned (its result dropped, its slot freed), so
// nothing waits on the slowest node longer than its deadline plus that
// grace. When ctx ends, the nodes not yet started get ctx's error.
//
// Memory: one result per node plus one goroutine per node in flight.
func FanOut[T any](ctx context.Context, nodes []string, o FanOutOptions, fn func(ctx context.Context, node string) (T, error)) []Result[T] {
	conc := o.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	grace := o.CleanupGrace
	if grace <= 0 {
		grace = DefaultCleanupGrace
	}
	results := make([]Result[T], len(nodes))
	slots := make(chan struct{}, conc)
	finished := make(chan struct{}, len(nodes))
	started := 0
	for i, node := range nodes {
		results[i].Node = node
		if ctx.Err() != nil {
			results[i].Err = fmt.Errorf("%s: not probed: %w", describeNode(node), context.Cause(ctx))
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			results[i].Err = fmt.Errorf("%s: not probed: %w", describeNode(node), context.Cause(ctx))
			continue
		}
		started++
		go func(r *Result[T]) {
			defer func() { <-slots; finished <- struct{}{} }()
			r.Value, r.Err = runOne(ctx, r.Node, o.NodeTimeout, grace, fn)
		}(&results[i])
	}
	for ; started > 0; started-- {
		<-finished
	}
	return results
}

// runOne runs fn for one node under its deadline and stops waiting for it
// there, whatever fn does.
func runOne[T any](ctx context.Context, node string, timeout, grace time.Duration, fn func(context.Context, string) (T, error)) (T, error) {
	nctx, cancel := context.WithCancel(ctx)
	if timeout > 0 {
		nctx, cancel = context.WithTimeoutCause(ctx, timeout, errNodeDeadline)
	}
	defer cancel()
	type out struct {
		v   T
		err error
	}
	ch := make(chan out, 1) // buffered: an abandoned fn still finishes
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- out{err: fmt.Errorf("%s: internal error: %v", describeNode(node), p)}
			}
		}()
		v, err := fn(nctx, node)
		ch <- out{v, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil && errors.Is(context.Cause(nctx), errNodeDeadline) && !errors.Is(o.err, ErrTimeout) {
			o.err = fmt.Errorf("%w: %s: no answer within its deadline of %s: %w", ErrTimeout, describeNode(node), timeout, o.err)
		}
		return o.v, o.err
	case <-nctx.Done():
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case o := <-ch:
			// Work that finished within the grace keeps its result, and
			// its own timeout error, which may say more than ours.
			if o.err == nil || errors.Is(o.err, ErrTimeout) {
				return o.v, o.err
			}
		case <-t.C:
		}
		var zero T
		if errors.Is(context.Cause(nctx), errNodeDeadline) {
			return zero, fmt.Errorf("%w: %s: no answer within its deadline of %s", ErrTimeout, describeNode(node), timeout)
		}
		return zero, fmt.Errorf("%s: %w", describeNode(node), context.Cause(nctx))
	}
}

var errNodeDeadline = errors.New("the node's deadline passed")
