package projects

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"iapterm/auth"
)

// CachePath is where the last inventory is kept:
// os.UserCacheDir()/iapterm/inventory.json.
func CachePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(dir, "iapterm", "inventory.json"), nil
}

// LoadCache reads the cached inventory so the explorer can draw at once. A
// missing cache is (nil, nil). A cache that cannot be read or parsed is
// ignored: (nil, warning) for the caller to show; never a reason to stop.
func LoadCache() (*Inventory, error) {
	p, err := CachePath()
	if err != nil {
		return nil, err
	}
	return LoadCacheFrom(p)
}

// LoadCacheFrom is LoadCache for an explicit path.
func LoadCacheFrom(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ignoring the inventory cache %s: %w", path, err)
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("ignoring the corrupt inventory cache %s (it will be rewritten on the next refresh): %w", path, err)
	}
	if inv.Instances == nil {
		inv.Instances = map[string][]Instance{}
	}
	return &inv, nil
}

// SaveCache writes the inventory to CachePath atomically with mode 0600.
func SaveCache(inv *Inventory) error {
	p, err := CachePath()
	if err != nil {
		return err
	}
	return SaveCacheTo(p, inv)
}

// SaveCacheTo is SaveCache for an explicit path.
func SaveCacheTo(path string, inv *Inventory) error {
	data, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	return auth.WriteFileAtomic(path, data, 0o600)
}
