package backend

import "iapterm/profiles"

// ConfigFile is the settings file at Path, read afresh each time so edits
// made outside iapterm show up.
type ConfigFile struct{ Path string }

// LoadConfig implements common.ConfigLoader.
func (f ConfigFile) LoadConfig() (*profiles.Config, error) { return profiles.LoadOrLastGood(f.Path) }
