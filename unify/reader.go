package unify

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads a JSON Lines file one line at a time with the offset of
// each, holding at most MaxLineBytes of it: memory does not grow with the
// file, and a longer line is skipped (and refused) without being held.
type lineReader struct {
	br  *bufio.Reader
	off int64 // of the next byte to read
	num int   // number of the last line returned, from 1
	buf []byte
}

// rawLine is one line of a file.
type rawLine struct {
	num     int
	off     int64  // of data's first byte in the file
	data    []byte // without its "\n" (a "\r" before it stays: JSON white space); valid until the next call
	tooLong bool   // longer than MaxLineBytes: data is empty
}

// utf8BOM may start a file written by some tools; it is not part of the
// first line.
var utf8BOM = []byte("\xEF\xBB\xBF")

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line, or io.EOF after the last one. A last line
// without a final newline is a line.
func (r *lineReader) next() (rawLine, error) {
	start := r.off
	r.buf = r.buf[:0]
	newline := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		if len(r.buf)+len(chunk) <= MaxLineBytes+1 { // +1: the newline
			r.buf = append(r.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if r.off == start {
				return rawLine{}, io.EOF
			}
			break
		}
		if err != nil {
			return rawLine{}, err
		}
		newline = true
		break
	}
	r.num++
	l := rawLine{num: r.num, off: start}
	size := r.off - start
	if newline {
		size--
	}
	if size > MaxLineBytes {
		l.tooLong = true
		return l, nil
	}
	l.data = r.buf[:size]
	if r.num == 1 && bytes.HasPrefix(l.data, utf8BOM) {
		l.data, l.off = l.data[len(utf8BOM):], l.off+int64(len(utf8BOM))
	}
	return l, nil
}
