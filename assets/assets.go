// Package assets holds files embedded in the iapterm binary.
package assets

import _ "embed"

// DemoWorld is the emulator's demo world (YAML, see README "emulator").
//
//go:embed demo-world.yaml
var DemoWorld []byte
