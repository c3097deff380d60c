package unify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// The first pass reads both files once, checks every line and keeps, per
// valid record, only fixed-size keys and where the line is: 16-byte digests
// of its id, email and link, its offset, length and number. Grouping the
// records into unified accounts then works on those arrays (sorts and a
// union-find), and the second pass reads each account's lines again by
// offset. Memory is about 80 bytes per record, whatever the lines hold; no
// id or email string is kept.

// key is the first 16 bytes of a SHA-256: equal keys are equal strings (a
// collision among a few million values has a probability near 2^-80, and
// crafting one costs 2^64 work).
type key [16]byte

func keyOf(s string) key {
	sum := sha256.Sum256([]byte(s))
	return key(sum[:16])
}

func (k key) compare(o key) int { return bytes.Compare(k[:], o[:]) }

// orderOf is the first half of an account id: its text form begins with
// the same bytes in the same order.
func orderOf(id uuid.UUID) uint64 { return binary.BigEndian.Uint64(id[:8]) }

// recordHead is what both files' entries share for refusing repeated ids.
// (Its fields fit in 24 bytes: embedded first, it keeps the entries at 80
// and 64 bytes.)
type recordHead struct {
	id   key
	line uint32
	dead bool // refused after parsing (duplicate id or credential, dangling link)
}

// dediboxEntry and scalewayEntry are the first pass's view of a record.
type dediboxEntry struct {
	recordHead
	email key
	link  key    // of linked_scaleway_account_id; zero when not linked
	order uint64 // orderOf the account id it makes without a Scaleway record
	off   int64
	size  uint32
	sum   uint32 // lineSum of the line
}

func (e *dediboxEntry) linked() bool { return e.link != key{} }

type scalewayEntry struct {
	recordHead
	email key
	order uint64 // orderOf the account id it makes
	off   int64
	size  uint32
	sum   uint32 // lineSum of the line
}

// credentialEntry is a WebAuthn credential of a Scaleway record: credential
// ids are unique across all accounts (the store's primary key).
type credentialEntry struct {
	id       key
	scaleway uint32 // index of the record
}

// chunked is an append-only array in fixed chunks, so that growing it never
// copies (nor doubles the memory of) what it holds.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

const chunkLen = 1 << 16

func (c *chunked[T]) add(v T) {
	if c.n%chunkLen == 0 {
		c.chunks = append(c.chunks, make([]T, 0, chunkLen))
	}
	c.chunks[len(c.chunks)-1] = append(c.chunks[len(c.chunks)-1], v)
	c.n++
}

func (c *chunked[T]) at(i uint32) *T { return &c.chunks[i/chunkLen][i%chunkLen] }

// index is the first pass's result: every valid record, the refused lines,
// and the records grouped into unified accounts.
type index struct {
	files    [2]string // Dedibox, Scaleway paths (as given: the report names them so)
	dedibox  chunked[dediboxEntry]
	scaleway chunked[scalewayEntry]
	creds    []credentialEntry
	rejected []Rejection
	groups   groups
	locs     [2]chunked[location]     // after compact
	vrecs    [2]chunked[verifyRecord] // after compactForVerify
}

// Which file a record or a line is in.
const (
	fileDedibox  = 0
	fileScaleway = 1
)

func (ix *index) reject(file int, line int, reason string) {
	ix.rejected = append(ix.rejected, Rejection{File: ix.files[file], Line: line, Reason: reason})
}

// buildIndex reads both files, checks every line and groups the valid
// records into unified accounts (CONTRACT §8, rule 1 and 4), counting the
// bytes read on prog.
func buildIndex(ctx context.Context, dediboxPath, scalewayPath string, prog *progress) (*index, error) {
	ix := &index{files: [2]string{dediboxPath, scalewayPath}}
	var total int64
	for _, path := range ix.files {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		total += fi.Size()
	}
	prog.phase("reading", "bytes", total)
	if err := ix.read(ctx, fileDedibox, prog.add); err != nil {
		return nil, err
	}
	if err := ix.read(ctx, fileScaleway, prog.add); err != nil {
		return nil, err
	}
	ix.resolve()
	return ix, nil
}

// read scans one file. Parsing a line (JSON, the email's normal form, the
// digests) costs far more than reading it, so the lines go in chunks to a
// parser per CPU, and their results come back in file order: the index is
// built exactly as one goroutine would build it (a repeated id's first line
// is the record, refusals are in line order).
func (ix *index) read(ctx context.Context, file int, progress func(int64)) error {
	f, err := os.Open(ix.files[file])
	if err != nil {
		return err
	}
	defer f.Close()

	parsers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *lineChunk, parsers)
	inOrder := make(chan *lineChunk, 2*parsers) // bounds the chunks in flight
	var wg sync.WaitGroup
	for range parsers {
		wg.Go(func() {
			for c := range work {
				c.parse(file)
				close(c.done)
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(inOrder)
		defer close(work)
		readErr <- readChunks(ctx, f, ix.files[file], func(c *lineChunk) {
			inOrder <- c
			work <- c
		})
	}()
	var reported int64
	for c := range inOrder {
		<-c.done
		for i := range c.out {
			ix.add(file, &c.out[i])
		}
		progress(c.end - reported)
		reported = c.end
	}
	wg.Wait()
	if err := <-readErr; err != nil {
		return err
	}
	return ctx.Err()
}

// linesPerChunk is how many lines a parser takes at a time.
const linesPerChunk = 1024

// lineChunk is consecutive lines of a file, copied out of the reader's
// buffer, and what parsing them found.
type lineChunk struct {
	lines []rawLine
	buf   []byte
	end   int64 // offset after the last line
	out   []parsedLine
	done  chan struct{} // closed once out is filled
}

// parsedLine is what the index keeps of one line.
type parsedLine struct {
	num      int
	refusal  string // the line is refused for this reason
	dedibox  dediboxEntry
	scaleway scalewayEntry
	creds    []key // the WebAuthn credential ids of a Scaleway record
}

// readChunks reads the file's lines and hands them over in chunks, in order.
func readChunks(ctx context.Context, f io.Reader, name string, send func(*lineChunk)) error {
	lr := newLineReader(f)
	newChunk := func() *lineChunk { return &lineChunk{done: make(chan struct{}), buf: make([]byte, 0, 256<<10)} }
	c := newChunk()
	for {
		l, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if l.num > 1<<32-1 {
			return fmt.Errorf("%s: more than 2^32 lines", name)
		}
		// Copy the line: the reader reuses its buffer. (A line copied
		// before c.buf grew keeps the old array, which holds it all the
		// same.)
		at := len(c.buf)
		c.buf = append(c.buf, l.data...)
		l.data = c.buf[at:len(c.buf):len(c.buf)]
		c.lines = append(c.lines, l)
		if len(c.lines) == linesPerChunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.end = lr.off
			send(c)
			c = newChunk()
		}
	}
	c.end = lr.off
	send(c)
	return nil
}

// parse fills c.out from c.lines.
func (c *lineChunk) parse(file int) {
	c.out = make([]parsedLine, 0, len(c.lines))
	for _, l := range c.lines {
		p := parsedLine{num: l.num}
		switch {
		case l.tooLong:
			p.refusal = fmt.Sprintf("line longer than %d bytes", MaxLineBytes)
		case blankLine(l.data):
			continue
		case file == fileDedibox:
			p.dedibox, p.refusal = parseDediboxEntry(l)
		default:
			p.scaleway, p.creds, p.refusal = parseScalewayEntry(l)
		}
		c.out = append(c.out, p)
	}
	c.lines, c.buf = nil, nil
}

// add puts one parsed line into the index, in file order.
func (ix *index) add(file int, p *parsedLine) {
	switch {
	case p.refusal != "":
		ix.reject(file, p.num, p.refusal)
	case file == fileDedibox:
		ix.dedibox.add(p.dedibox)
	default:
		n := uint32(ix.scaleway.n)
		for _, id := range p.creds {
			ix.creds = append(ix.creds, credentialEntry{id: id, scaleway: n})
		}
		ix.scaleway.add(p.scaleway)
	}
}

func parseDediboxEntry(l rawLine) (dediboxEntry, string) {
	r, err := ParseDediboxLine(l.data)
	if err != nil {
		return dediboxEntry{}, err.Error()
	}
	e := dediboxEntry{recordHead: recordHead{id: keyOf(r.ID), line: uint32(l.num)}, email: keyOf(r.Email),
		order: orderOf(dediboxAccountID(r.Email)), off: l.off, size: uint32(len(l.data)), sum: lineSum(l.data)}
	if r.LinkedScalewayID != "" {
		e.link = keyOf(r.LinkedScalewayID)
	}
	return e, ""
}

func parseScalewayEntry(l rawLine) (scalewayEntry, []key, string) {
	r, err := ParseScalewayLine(l.data)
	if err != nil {
		return scalewayEntry{}, nil, err.Error()
	}
	var creds []key
	for _, c := range r.WebAuthn {
		creds = append(creds, keyOf(string(c.ID)))
	}
	return scalewayEntry{recordHead: recordHead{id: keyOf(r.ID), line: uint32(l.num)}, email: keyOf(r.Email),
		order: orderOf(scalewayAccountID(r.ID)), off: l.off, size: uint32(len(l.data)), sum: lineSum(l.data)}, creds, ""
}

// resolve refuses the records that conflict with others, then groups the
// rest. Refusals come first because a refused record must not pull others
// into its group:
//
//  1. a repeated id within a file: the first line is the record, the later
//     ones are refused;
//  2. a WebAuthn credential id already held by an earlier Scaleway record
//     (credential ids are unique across accounts): the later record is
//     refused;
//  3. a Dedibox record linked to a Scaleway id that no valid record has: it
//     is refused rather than taken as unlinked, because a dangling link most
//     likely means a Scaleway export that is incomplete or older than the
//     Dedibox one, and joining by email or creating a new Scaleway account
//     would then be wrong, mail the owner about it, and could not be undone
//     by a run on corrected files. Refused, the record is reported, and is
//     imported by a later run once the files agree.
func (ix *index) resolve() {
	nd, ns := uint32(ix.dedibox.n), uint32(ix.scaleway.n)

	// The records by email, sorted on a second core while this one sorts
	// them by id: the refusals below only mark records dead, and the dead
	// are taken out of the sorted lists after.
	var scwByEmail, dedByEmail []uint32
	var wg sync.WaitGroup
	wg.Go(func() {
		scwByEmail = sortedIndexes(ns, func(a, b uint32) int {
			return cmp.Or(ix.scaleway.at(a).email.compare(ix.scaleway.at(b).email), cmp.Compare(a, b))
		})
		dedByEmail = sortedIndexes(nd, func(a, b uint32) int {
			return cmp.Or(ix.dedibox.at(a).email.compare(ix.dedibox.at(b).email), cmp.Compare(a, b))
		})
	})
	byID := ix.rejectRepeatedIDs(fileScaleway, ns, func(i uint32) *recordHead { return &ix.scaleway.at(i).recordHead })
	ix.rejectRepeatedIDs(fileDedibox, nd, func(i uint32) *recordHead { return &ix.dedibox.at(i).recordHead })
	ix.rejectDuplicateCredentials()
	wg.Wait()

	// Live Scaleway records by id and by email, for the Dedibox links.
	byID = slices.DeleteFunc(byID, func(i uint32) bool { return ix.scaleway.at(i).dead })
	byEmail := slices.DeleteFunc(scwByEmail, func(i uint32) bool { return ix.scaleway.at(i).dead })
	for i := range nd {
		e := ix.dedibox.at(i)
		if e.dead || !e.linked() {
			continue
		}
		if _, ok := slices.BinarySearchFunc(byID, e.link, func(s uint32, k key) int { return ix.scaleway.at(s).id.compare(k) }); !ok {
			e.dead = true
			ix.reject(fileDedibox, int(e.line), "linked_scaleway_account_id names no valid Scaleway record")
		}
	}
	ix.groups = ix.group(byID, byEmail, dedByEmail)
}

// rejectRepeatedIDs refuses the lines of file repeating an earlier line's
// id, among its n records (head gives record i's), and returns the records
// sorted by id, ties in line order.
func (ix *index) rejectRepeatedIDs(file int, n uint32, head func(i uint32) *recordHead) []uint32 {
	byID := sortedIndexes(n, func(a, b uint32) int { return cmp.Or(head(a).id.compare(head(b).id), cmp.Compare(a, b)) })
	var first *recordHead
	for i, r := range byID {
		cur := head(r)
		if i == 0 || cur.id != first.id {
			first = cur
			continue
		}
		cur.dead = true
		ix.reject(file, int(cur.line), fmt.Sprintf("duplicate id (first at line %d)", first.line))
	}
	return byID
}

// rejectDuplicateCredentials refuses a Scaleway record holding a credential
// id that an earlier live record holds.
func (ix *index) rejectDuplicateCredentials() {
	creds := slices.DeleteFunc(ix.creds, func(c credentialEntry) bool { return ix.scaleway.at(c.scaleway).dead })
	slices.SortFunc(creds, func(a, b credentialEntry) int {
		return cmp.Or(a.id.compare(b.id), cmp.Compare(a.scaleway, b.scaleway))
	})
	for i := 1; i < len(creds); i++ {
		if creds[i].id != creds[i-1].id || creds[i].scaleway == creds[i-1].scaleway {
			continue
		}
		j := i - 1
		for j > 0 && creds[j-1].id == creds[i].id {
			j--
		}
		cur, first := ix.scaleway.at(creds[i].scaleway), ix.scaleway.at(creds[j].scaleway)
		if !cur.dead {
			cur.dead = true
			ix.reject(fileScaleway, int(cur.line), fmt.Sprintf("webauthn credential id already held by line %d", first.line))
		}
	}
	ix.creds = nil // no longer needed
}

// sortedIndexes returns 0…n-1 sorted by less.
func sortedIndexes(n uint32, compare func(a, b uint32) int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	slices.SortFunc(out, compare)
	return out
}

// groups are the unified accounts, as sets of records. Nodes number the
// records: Scaleway record i is node i, Dedibox record j is node nS+j.
type groups struct {
	nS      uint32
	of      []uint32 // node → group, or noGroup for a refused record
	start   []uint32 // group g's nodes are nodes[start[g]:start[g+1]]
	members []uint32
}

const noGroup = ^uint32(0)

func (g *groups) count() int { return len(g.start) - 1 }

// nodesOf returns group g's nodes, Scaleway ones first, each source in line
// order.
func (g *groups) nodesOf(n int) []uint32 { return g.members[g.start[n]:g.start[n+1]] }

// record is the file and the index in it of node's record.
func (g *groups) record(node uint32) (file int, i uint32) {
	if node >= g.nS {
		return fileDedibox, node - g.nS
	}
	return fileScaleway, node
}

// group joins records into unified accounts with a union-find (CONTRACT §8):
//   - a Dedibox record joins the Scaleway record it is linked to (rule 1);
//   - an unlinked Dedibox record joins the Scaleway record with its email
//     (rule 1);
//   - Dedibox records with one email join each other (rule 4), whichever
//     Scaleway record any of them joins;
//   - Scaleway records with one email (spellings that normalise alike) join
//     each other: one address is one unified account (accounts.email is
//     unique), and both accounts were reachable by that one mailbox.
//
// Groups are numbered in the order of their unified account's id, so that
// the accounts are written in that order: the store's indexes keyed by
// account (the accounts, and the console accounts, source lines, second
// factors, memberships and notices of each) then grow at one end instead of
// at random places, several times cheaper for the database on a run of
// millions. The order comes from orderOf, the id's first half; for the rare
// group of several Scaleway records it is that of the smallest key, maybe
// not of the id planAccount picks (the smallest id): a few accounts out of
// order, no more.
//
// scwByID and scwByEmail are the live Scaleway records sorted by id and by
// email; dedByEmail all the Dedibox records sorted by email.
func (ix *index) group(scwByID, scwByEmail, dedByEmail []uint32) groups {
	nd, ns := uint32(ix.dedibox.n), uint32(ix.scaleway.n)
	uf := newUnionFind(ns + nd)
	for i := 1; i < len(scwByEmail); i++ {
		if ix.scaleway.at(scwByEmail[i]).email == ix.scaleway.at(scwByEmail[i-1]).email {
			uf.union(scwByEmail[i], scwByEmail[i-1])
		}
	}
	dedByEmail = slices.DeleteFunc(dedByEmail, func(i uint32) bool { return ix.dedibox.at(i).dead })
	for i := 1; i < len(dedByEmail); i++ {
		if ix.dedibox.at(dedByEmail[i]).email == ix.dedibox.at(dedByEmail[i-1]).email {
			uf.union(ns+dedByEmail[i], ns+dedByEmail[i-1])
		}
	}
	for i := range nd {
		e := ix.dedibox.at(i)
		if e.dead {
			continue
		}
		if e.linked() {
			s, _ := slices.BinarySearchFunc(scwByID, e.link, func(s uint32, k key) int { return ix.scaleway.at(s).id.compare(k) })
			uf.union(ns+i, scwByID[s])
			continue
		}
		if s, ok := slices.BinarySearchFunc(scwByEmail, e.email, func(s uint32, k key) int { return ix.scaleway.at(s).email.compare(k) }); ok {
			uf.union(ns+i, scwByEmail[s])
		}
	}

	g := groups{nS: ns, of: make([]uint32, ns+nd)}
	for i := range g.of {
		g.of[i] = noGroup
	}
	rootGroup := make([]uint32, ns+nd)
	for i := range rootGroup {
		rootGroup[i] = noGroup
	}
	// Each group's order: its Scaleway records' when it has any (their id
	// makes the account's), else its Dedibox records' (one email, one id).
	const none = ^uint64(0)
	rootOrder := make([]uint64, ns+nd)
	for i := range rootOrder {
		rootOrder[i] = none
	}
	var roots []uint32
	for i := range ns {
		if e := ix.scaleway.at(i); !e.dead {
			root := uf.find(i)
			if rootOrder[root] == none {
				roots = append(roots, root)
			}
			rootOrder[root] = min(rootOrder[root], e.order)
		}
	}
	for i := range nd {
		if e := ix.dedibox.at(i); !e.dead {
			root := uf.find(ns + i)
			if rootOrder[root] == none {
				roots = append(roots, root)
				rootOrder[root] = e.order
			}
		}
	}
	slices.SortFunc(roots, func(a, b uint32) int { return cmp.Or(cmp.Compare(rootOrder[a], rootOrder[b]), cmp.Compare(a, b)) })
	for n, root := range roots {
		rootGroup[root] = uint32(n)
	}
	sizes := make([]uint32, len(roots))
	rootOrder, roots = nil, nil
	for node := range g.of {
		if node < int(ns) && ix.scaleway.at(uint32(node)).dead || node >= int(ns) && ix.dedibox.at(uint32(node)-ns).dead {
			continue
		}
		n := rootGroup[uf.find(uint32(node))]
		g.of[node] = n
		sizes[n]++
	}
	rootGroup, uf = nil, nil
	g.start = make([]uint32, len(sizes)+1)
	for n, size := range sizes {
		g.start[n+1] = g.start[n] + size
	}
	g.members = make([]uint32, g.start[len(sizes)])
	fill := slices.Clone(g.start[:len(sizes)])
	for node, n := range g.of {
		if n != noGroup {
			g.members[fill[n]] = uint32(node)
			fill[n]++
		}
	}
	return g
}

// unionFind is a disjoint-set forest over 0…n-1 (union by size, path
// halving).
type unionFind struct {
	parent []uint32
	size   []uint32
}

func newUnionFind(n uint32) *unionFind {
	uf := &unionFind{parent: make([]uint32, n), size: make([]uint32, n)}
	for i := range uf.parent {
		uf.parent[i], uf.size[i] = uint32(i), 1
	}
	return uf
}

func (uf *unionFind) find(x uint32) uint32 {
	for uf.parent[x] != x {
		uf.parent[x] = uf.parent[uf.parent[x]]
		x = uf.parent[x]
	}
	return x
}

func (uf *unionFind) union(a, b uint32) {
	a, b = uf.find(a), uf.find(b)
	if a == b {
		return
	}
	if uf.size[a] < uf.size[b] {
		a, b = b, a
	}
	uf.parent[b] = a
	uf.size[a] += uf.size[b]
}

// location is where a valid record's line is, all the second pass keeps of
// it once the groups are made.
type location struct {
	off  int64
	size uint32
	line uint32
	sum  uint32 // lineSum of the line: it must read back the same
}

// lineSum is the checksum the second pass compares a line it reads back
// with (CRC-32C: hardware-computed, a few nanoseconds a line). A line read
// back unchanged is parsed without checking its encoding and grammar again.
func lineSum(line []byte) uint32 { return crc32.Checksum(line, castagnoli) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// compact replaces the records' keys by their locations, for the second
// pass of a run.
func (ix *index) compact() {
	moveInto(&ix.dedibox, &ix.locs[fileDedibox], func(e *dediboxEntry) location {
		return location{off: e.off, size: e.size, line: e.line, sum: e.sum}
	})
	moveInto(&ix.scaleway, &ix.locs[fileScaleway], func(e *scalewayEntry) location {
		return location{off: e.off, size: e.size, line: e.line, sum: e.sum}
	})
}

// verifyRecord is what verify keeps of a record once the groups are made;
// a refused record is one whose node has no group.
type verifyRecord struct {
	id   key
	off  int64
	size uint32
	line uint32
}

// compactForVerify is compact for verify, which matches records by id.
func (ix *index) compactForVerify() {
	moveInto(&ix.dedibox, &ix.vrecs[fileDedibox], func(e *dediboxEntry) verifyRecord {
		return verifyRecord{id: e.id, off: e.off, size: e.size, line: e.line}
	})
	moveInto(&ix.scaleway, &ix.vrecs[fileScaleway], func(e *scalewayEntry) verifyRecord {
		return verifyRecord{id: e.id, off: e.off, size: e.size, line: e.line}
	})
}

// moveInto empties src into dst, converting each record, chunk by chunk:
// the two are never both held whole.
func moveInto[E, T any](src *chunked[E], dst *chunked[T], convert func(*E) T) {
	for k, chunk := range src.chunks {
		for i := range chunk {
			dst.add(convert(&chunk[i]))
		}
		src.chunks[k] = nil
	}
	*src = chunked[E]{}
}
