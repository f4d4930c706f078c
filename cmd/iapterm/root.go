package main

import (
	"errors"
	"fmt"
	"strings"

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
	for _, c := range root.Commands() {
		groupCommands(c)
	}
	return root
}

// groupCommands makes c and the commands below it that only hold other
// commands (config, policy, auth, ...) refuse a word that is none of them:
// cobra prints such a command's help and exits 0 for "iapterm config sett".
func groupCommands(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			msg := fmt.Sprintf("unknown command %q for %q: its commands are %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return errors.New(msg)
		}
	}
	for _, sub := range c.Commands() {
		groupCommands(sub)
	}
}
