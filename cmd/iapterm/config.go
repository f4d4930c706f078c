package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"iapterm/profiles"
)

// loadConfig loads the settings file. A broken file is reported on stderr
// and the last settings that loaded are used, so no command is blocked by a
// typo; the file itself is never rewritten.
func loadConfig(cmd *cobra.Command) (*profiles.Config, error) {
	path := global.config
	if path == "" {
		var err error
		if path, err = profiles.DefaultPath(); err != nil {
			return nil, err
		}
	}
	c, err := profiles.LoadOrLastGood(path)
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "iapterm: warning:", err)
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "iapterm: warning:", w)
	}
	return c, nil
}

// loadConfigForEdit loads the settings file for config set and reset: a
// file that does not load is the error itself (it is never edited), not a
// warning followed by the same problem again.
func loadConfigForEdit(cmd *cobra.Command) (*profiles.Config, error) {
	path := global.config
	if path == "" {
		var err error
		if path, err = profiles.DefaultPath(); err != nil {
			return nil, err
		}
	}
	c, err := profiles.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: the file is not edited until it loads again", err)
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "iapterm: warning:", w)
	}
	return c, nil
}

// nodeFlags selects the settings layer a config command works on.
type nodeFlags struct{ project, zone, instance string }

func (n *nodeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.project, "project", "", "project ID (omit for global settings)")
	cmd.Flags().StringVar(&n.zone, "zone", "", "zone (with --project)")
	cmd.Flags().StringVar(&n.instance, "instance", "", "instance name (with --project and --zone)")
}

func (n *nodeFlags) node() (profiles.Node, error) {
	if (n.zone != "" && n.project == "") || (n.instance != "" && (n.project == "" || n.zone == "")) {
		return profiles.Node{}, fmt.Errorf("--zone needs --project, and --instance needs --project and --zone")
	}
	return profiles.Node{Project: n.project, Zone: n.zone, Instance: n.instance}, nil
}

func init() {
	register(newConfigCmd)
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change connection settings (global, project, zone, instance)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print the settings file's path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.Path)
			return nil
		},
	})

	var show nodeFlags
	var labels map[string]string
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective settings of a node and where each comes from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := show.node()
			if err != nil {
				return err
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			eff := c.Resolve(profiles.Target{Project: n.Project, Zone: n.Zone, Instance: n.Instance, Labels: labels})
			printEffective(cmd.OutOrStdout(), eff)
			return nil
		},
	}
	show.add(showCmd)
	showCmd.Flags().StringToStringVar(&labels, "labels", nil, "instance labels for label-selector settings, e.g. env=prod,role=db")
	cmd.AddCommand(showCmd)

	var set nodeFlags
	setCmd := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set a setting at a node; only that key changes in the file",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := set.node()
			if err != nil {
				return err
			}
			c, err := loadConfigForEdit(cmd)
			if err != nil {
				return err
			}
			return c.Set(n, args[0], args[1])
		},
	}
	set.add(setCmd)
	cmd.AddCommand(setCmd)

	var reset nodeFlags
	resetCmd := &cobra.Command{
		Use:   "reset KEY",
		Short: "Remove a node's own value so it inherits again",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := reset.node()
			if err != nil {
				return err
			}
			c, err := loadConfigForEdit(cmd)
			if err != nil {
				return err
			}
			return c.Reset(n, args[0])
		},
	}
	reset.add(resetCmd)
	cmd.AddCommand(resetCmd)
	return cmd
}

func printEffective(w io.Writer, eff profiles.Effective) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
	for _, k := range eff.Keys() {
		v := eff.Get(k)
		text := v.Text
		if text == "" {
			text = "-"
		}
		mark := ""
		if v.Own {
			mark = " *"
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\n", k, text, mark, v.Explain())
	}
	tw.Flush()
}
