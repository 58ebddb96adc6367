package graph

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// Entry is a commit with its id.
type Entry struct {
	ID     objects.ID
	Commit *objects.Commit
}

// NewestFirst orders commits as a log lists them: every commit before
// its parents among them, otherwise newest first by commit time, then by
// id, so that the order is deterministic. With firstParent only first
// parents count as edges. max > 0 stops after max commits. Parents not
// among commits are ignored. A cycle of parents (which a store that
// verifies ids rules out) gives an error naming a commit on or below it,
// as does a commit listed twice.
func NewestFirst(commits []Entry, firstParent bool, max int) ([]Entry, error) {
	byID := make(map[objects.ID]*objects.Commit, len(commits))
	for _, e := range commits {
		if _, dup := byID[e.ID]; dup {
			return nil, fmt.Errorf("graph: commit %s listed twice", e.ID)
		}
		byID[e.ID] = e.Commit
	}
	parents := func(c *objects.Commit) []objects.ID {
		if firstParent && len(c.Parents) > 1 {
			return c.Parents[:1]
		}
		return c.Parents
	}
	// Kahn's algorithm: a commit is ready when all its children among
	// commits have been emitted; among ready commits, newest first.
	children := map[objects.ID]int{}
	for _, e := range commits {
		for _, p := range parents(e.Commit) {
			if _, ok := byID[p]; ok {
				children[p]++
			}
		}
	}
	h := &entryHeap{}
	for _, e := range commits {
		if children[e.ID] == 0 {
			heap.Push(h, e)
		}
	}
	var out []Entry
	for h.Len() > 0 && (max <= 0 || len(out) < max) {
		e := heap.Pop(h).(Entry)
		out = append(out, e)
		for _, p := range parents(e.Commit) {
			if _, ok := byID[p]; !ok {
				continue
			}
			if children[p]--; children[p] == 0 {
				heap.Push(h, Entry{p, byID[p]})
			}
		}
	}
	if h.Len() == 0 && len(out) < len(commits) && (max <= 0 || len(out) < max) {
		for _, e := range commits {
			if children[e.ID] > 0 {
				return nil, fmt.Errorf("graph: commit %s is on or below a cycle of parents", e.ID)
			}
		}
	}
	return out, nil
}

type entryHeap []Entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].Commit.Time != h[j].Commit.Time {
		return h[i].Commit.Time > h[j].Commit.Time
	}
	return strings.Compare(h[i].ID.String(), h[j].ID.String()) < 0
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(Entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
