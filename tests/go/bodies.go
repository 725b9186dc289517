package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Bodies: "<prefix>-<index>", then (when --body-size is larger) "#" and a deterministic filler up to
// exactly body-size bytes: xorshift64 over 'a'..'z' seeded with (index+1)*0x9E3779B97F4A7C15.
// Identical to tests/java/.../Bodies.java so either client can verify the other's bodies.

func bodyID(prefix string, index int64) string { return prefix + "-" + strconv.FormatInt(index, 10) }

func fill(b []byte, from int, index int64) {
	s := uint64(index+1) * 0x9E3779B97F4A7C15
	for i := from; i < len(b); i++ {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		b[i] = byte('a' + (s>>40)%26)
	}
}

func makeBody(prefix string, index int64, size int) []byte {
	id := []byte(bodyID(prefix, index))
	if size <= len(id)+1 {
		return id
	}
	b := make([]byte, size)
	copy(b, id)
	b[len(id)] = '#'
	fill(b, len(id)+1, index)
	return b
}

// parseBody returns index -1 when the body is not one of ours (or has another prefix).
func parseBody(body []byte, prefix string) (index int64, corrupt bool) {
	h := bytes.IndexByte(body, '#')
	idLen := len(body)
	if h >= 0 {
		idLen = h
	}
	id := string(body[:idLen])
	d := strings.LastIndexByte(id, '-')
	if d < 0 || id[:d] != prefix {
		return -1, false
	}
	n, err := strconv.ParseInt(id[d+1:], 10, 64)
	if err != nil || n < 0 || n > 1<<31-2 {
		return -1, false
	}
	if h >= 0 {
		exp := make([]byte, len(body))
		fill(exp, h+1, n)
		if !bytes.Equal(exp[h+1:], body[h+1:]) {
			corrupt = true
		}
	}
	return n, corrupt
}

// indexSet is a set of message indices printed as compact ranges "0-99,105".
type indexSet struct {
	mu sync.Mutex
	m  map[int64]struct{}
}

func newIndexSet() *indexSet { return &indexSet{m: map[int64]struct{}{}} }

func (s *indexSet) add(i int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.m[i]
	s.m[i] = struct{}{}
	return !had
}

func (s *indexSet) contains(i int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.m[i]
	return had
}

func (s *indexSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *indexSet) ranges() string {
	s.mu.Lock()
	keys := make([]int64, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	return rangesOf(keys)
}

func (s *indexSet) missingIn(from, to int64) string {
	s.mu.Lock()
	var miss []int64
	for i := from; i < to; i++ {
		if _, ok := s.m[i]; !ok {
			miss = append(miss, i)
		}
	}
	s.mu.Unlock()
	return rangesOf(miss)
}

func rangesOf(sorted []int64) string {
	var sb strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&sb, "%d-%d", sorted[i], sorted[j])
		} else {
			fmt.Fprintf(&sb, "%d", sorted[i])
		}
		i = j + 1
	}
	return sb.String()
}
