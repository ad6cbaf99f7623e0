package containerd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// maxIDLen is containerd's limit on identifiers.
const maxIDLen = 76

// sandboxID is the CNI container ID (and sandbox record name) of a pod. A UID that is
// already a valid identifier (a UUID is) is used as is, so host-local's allocation
// files name the pod; anything else is hashed.
func sandboxID(podUID string) string {
	if validID(podUID) && len(podUID) <= 64 {
		return podUID
	}
	return "h" + hashHex(podUID, 32)
}

// containerID is deterministic per (pod UID, container name, attempt) so a retried
// CreateContainer finds the container the first try made. The pod part is a hash
// prefix (a UUID and a 63-byte name would not fit containerd's 76 bytes); the name is
// kept readable when it is a valid identifier part.
func containerID(podUID, name string, attempt int32) string {
	n := name
	if !validID(n) || len(n) > 40 {
		n = "n" + hashHex(name, 16)
	}
	return fmt.Sprintf("%s-%s-%d", hashHex(podUID, 12), n, attempt)
}

func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// validID follows containerd's identifier grammar: alphanumeric runs separated by
// single '.', '_' or '-'.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	prevSep := true // a leading separator is invalid
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			prevSep = false
		case strings.IndexByte("._-", c) >= 0:
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

// keyedMutex serialises operations per key (a pod UID, a container ID) while letting
// different pods proceed in parallel. Entries are dropped when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock takes the key's lock and returns its release function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
