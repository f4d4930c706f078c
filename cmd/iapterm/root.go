package main

import (
	"github.com/spf13/cobra"
)

// commands registers subcommands from the files that define them, so each
// command lives in its own file and adding one touches nothing else.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// globalFlags are the flags every command shares.
type globalFlags struct {
	endpoint string
	config   string
	demo     bool
	// ui are the explorer's flags, for iapterm without a command.
	ui tuiOptions
}

var global globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "iapterm",
		Short: "Connect to Google Cloud VMs through Identity-Aware Proxy, from a terminal",
		Long: `iapterm reaches Google Cloud VMs that have no public IP through
Identity-Aware Proxy (IAP) TCP forwarding: tunnels to any TCP port, SSH and
RDP, with errors that say what to fix.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          runRoot,
	}
	root.PersistentFlags().StringVar(&global.endpoint, "endpoint", "", "base URL of every Google endpoint, e.g. an emulator's http://127.0.0.1:PORT (default $IAPTERM_ENDPOINT, else Google)")
	root.PersistentFlags().StringVar(&global.config, "config", "", "settings file (default $IAPTERM_CONFIG, else the user config directory's iapterm/config.toml)")
	root.Flags().BoolVar(&global.demo, "demo", false, "start the built-in emulator with the demo world and connect to it (no Google account needed)")
	global.ui = tuiOptions{}
	tuiFlags(root.Flags(), &global.ui)
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}
