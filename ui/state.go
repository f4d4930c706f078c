package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// State is what the explorer remembers between runs.
type State struct {
	Version     int      `json:"version"`
	Projects    []string `json:"projects"`
	Collapsed   []string `json:"collapsed,omitempty"`
	Selected    string   `json:"selected,omitempty"`
	HideLinux   bool     `json:"hideLinux,omitempty"`
	HideWindows bool     `json:"hideWindows,omitempty"`
}

const stateVersion = 1

// DefaultStatePath is ui-state.json in iapterm's config directory.
func DefaultStatePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory for the UI state: %w", err)
	}
	return filepath.Join(dir, "iapterm", "ui-state.json"), nil
}

// LoadState reads the state file; a missing file is an empty state. A file
// that does not parse is an error naming the line, and the caller must not
// write over it.
func LoadState(path string) (State, error) {
	var st State
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the UI state file: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		line := 0
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		case errors.As(err, &te):
			line = 1 + bytes.Count(data[:min(int(te.Offset), len(data))], []byte("\n"))
		}
		return State{}, fmt.Errorf("%s:%d: the UI state file does not parse (%w); fix or delete it, iapterm will not overwrite it", path, line, err)
	}
	if st.Version > stateVersion {
		return State{}, fmt.Errorf("%s was written by a newer iapterm (version %d); iapterm will not overwrite it", path, st.Version)
	}
	return st, nil
}

// stateStore writes the state file atomically; writes carry a sequence
// number so a slow older write never replaces a newer one.
type stateStore struct {
	path     string
	mu       sync.Mutex
	written  int
	readOnly bool // the file on disk did not parse: leave it alone
}

func (s *stateStore) save(seq int, st State) error {
	if s == nil || s.path == "" || s.readOnly {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < s.written {
		return nil
	}
	st.Version = stateVersion
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the UI state: %w", err)
	}
	if err := writeAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving the UI state: %w", err)
	}
	s.written = seq
	return nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so a crash never leaves half a file.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
