package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// runRoot runs when iapterm is called without a subcommand.
func runRoot(cmd *cobra.Command, args []string) error {
	if !global.demo {
		return cmd.Help()
	}
	return fmt.Errorf("--demo is not wired yet")
}
