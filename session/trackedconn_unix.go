//go:build unix

package session

import "syscall"

// socketEmpty peeks at the socket without blocking: true when nothing is
// waiting to be read (EAGAIN). An end of stream or an error counts as data:
// the reader has something to notice.
func socketEmpty(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}

// readSocket reads what the (non-blocking) socket holds.
func readSocket(fd uintptr, p []byte) (int, error) {
	n, err := syscall.Read(int(fd), p)
	if n < 0 {
		n = 0
	}
	return n, err
}
