package sextant

import "sync"

// Session consistency in cluster mode (docs/cluster.md): a Client keeps, per collection, the
// last consistency token a write returned (the server merges it with the token the write sent, so
// it covers every write of the session) and sends it with every read and write of that
// collection, so its reads wait until the replicas they read have applied its writes, whichever
// node answers. A single node answers with empty tokens and the session stays empty.

type sessions struct {
	mu     sync.Mutex
	tokens map[string]string
}

func (s *sessions) get(collection string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[collection]
}

// set replaces the collection's token ("" forgets it).
func (s *sessions) set(collection, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == "" {
		delete(s.tokens, collection)
		return
	}
	if s.tokens == nil {
		s.tokens = map[string]string{}
	}
	s.tokens[collection] = token
}

// note keeps a write's token; an empty one (a single node) leaves the session as it was.
func (s *sessions) note(collection, token string) {
	if token != "" {
		s.set(collection, token)
	}
}

// ConsistencyToken returns the session's token for collection: "" before this client wrote to
// it, and in single-node mode. Pass it to another Client's SetConsistencyToken (another node,
// another process) to make that client's reads wait for these writes too.
func (c *Client) ConsistencyToken(collection string) string { return c.sessions.get(collection) }

// SetConsistencyToken makes this client's reads and writes of collection carry token ("" forgets
// the session). A malformed token makes the next call fail with INVALID_ARGUMENT; a read whose
// replicas do not catch up before ctx's deadline fails with DEADLINE_EXCEEDED.
func (c *Client) SetConsistencyToken(collection, token string) { c.sessions.set(collection, token) }
