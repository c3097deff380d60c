package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileTransport writes each message to its own file, NAME.eml, in a
// directory (CONTRACT.md §9, transport: file): for development, and for
// tests and tools that read the mails a gateway sent.
type FileTransport struct {
	dir string
	now func() time.Time
}

// fileTimeLayout names files by time: fixed width, so that names sort in the
// order the messages were written.
const fileTimeLayout = "20060102T150405.000000000Z"

// NewFileTransport creates dir (mode 0700: the files hold one-time codes)
// when it does not exist.
func NewFileTransport(dir string) (*FileTransport, error) {
	if dir == "" {
		return nil, fmt.Errorf("mail: file transport: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: file transport: %w", err)
	}
	return &FileTransport{dir: dir, now: time.Now}, nil
}

// Send writes raw to a new file, mode 0600, named by the time and 64 random
// bits. It is written under a temporary name and renamed, so that a reader
// watching the directory for *.eml never sees half a message.
func (t *FileTransport) Send(ctx context.Context, to string, raw []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("mail: file transport: %w", err)
	}
	name := t.now().UTC().Format(fileTimeLayout) + "-" + hex.EncodeToString(suffix[:]) + ".eml"
	tmp, err := os.CreateTemp(t.dir, ".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("mail: file transport: %w", err)
	}
	_, err = tmp.Write(raw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(t.dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("mail: file transport: %w", err)
	}
	return nil
}
