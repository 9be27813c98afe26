package session

import (
	"sync"

	"github.com/tokenhost/tokenhost/rpc"
)

// queue hands a session's events from the connection's read loop, which
// must never block, to the session's consumer: push appends without bound,
// and a goroutine feeds out in order.
type queue struct {
	out chan rpc.SessionEvent

	mu     sync.Mutex
	items  []rpc.SessionEvent
	closed bool          // no more pushes; out closes once items are delivered
	wake   chan struct{} // a push or close happened
	quit   chan struct{} // stop: out closes now, undelivered items dropped
	once   sync.Once
}

func newQueue() *queue {
	q := &queue{out: make(chan rpc.SessionEvent), wake: make(chan struct{}, 1), quit: make(chan struct{})}
	go q.pump()
	return q
}

// push queues e; it never blocks for long.
func (q *queue) push(e rpc.SessionEvent) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, e)
	}
	q.mu.Unlock()
	q.signal()
}

// close ends the queue after the events already in it are delivered.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// stop ends the queue now, dropping what was not delivered.
func (q *queue) stop() { q.once.Do(func() { close(q.quit) }) }

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) pump() {
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-q.wake:
			case <-q.quit:
				return
			}
			continue
		}
		e := q.items[0]
		q.items[0] = rpc.SessionEvent{}
		q.items = q.items[1:]
		q.mu.Unlock()
		select {
		case q.out <- e:
		case <-q.quit:
			return
		}
	}
}
