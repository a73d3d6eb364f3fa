package warden

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// diskCache keeps what must survive a restart, one file per key in a folder
// (default ~/.warden/cache, as @warden/node), written atomically: a temporary
// file, fsync, rename, then the folder synced, so a crash leaves the old file
// or the new one, never half of one. What a file holds is checked by the
// bundle loader, which ignores (with a warning) anything that does not load.
type diskCache struct {
	dir string
}

func defaultCacheDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".warden", "cache"), nil
}

// get returns the file's text; ok is false when there is no such file.
func (c *diskCache) get(key string) (value []byte, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(c.dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (c *diskCache) set(key string, value []byte) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	target := filepath.Join(c.dir, key)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	temp := target + "." + hex.EncodeToString(suffix[:]) + ".tmp"
	f, err := os.OpenFile(temp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(value)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(temp, target)
	}
	if err != nil {
		_ = os.Remove(temp)
		return err
	}
	// The rename is durable once the folder is synced (best effort: not
	// every platform lets a folder be opened for it).
	if d, err := os.Open(c.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
