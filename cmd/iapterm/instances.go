package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"iapterm/projects"
)

func init() {
	register(newProjectsCmd)
	register(newInstancesCmd)
}

func newProjectsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "projects", Short: "Find Google Cloud projects"}
	var limit int
	var asJSON bool
	search := &cobra.Command{
		Use:   "search [TERM]",
		Short: "List active projects whose name or ID contains TERM (all when omitted)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := apiClient(cmd.Context())
			if err != nil {
				return err
			}
			term := ""
			if len(args) == 1 {
				term = args[0]
			}
			ps, err := c.SearchProjects(cmd.Context(), term, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return listJSON(out, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No active project matches %q.\n", term)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROJECT ID\tNAME\tNUMBER")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, p.Number)
			}
			return tw.Flush()
		},
	}
	search.Flags().IntVar(&limit, "limit", 200, "at most this many projects")
	search.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(search)
	return cmd
}

func newInstancesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "instances", Short: "List and inspect VM instances"}
	var projectIDs []string
	var maxProjects int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the instances of some projects (every visible project when --project is not given)",
		Long: `Lists instances with one aggregated call per project, several projects at
once. Projects or zones that cannot be read are reported on stderr and do not
stop the others. Against Google, the result is also kept as the explorer's
inventory cache.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			creds, eps, err := credentials(ctx)
			if err != nil {
				return err
			}
			c, err := projects.NewClient(ctx, eps, creds.TokenSource)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			progress := listIsTerminal(errw)
			var ps []projects.Project
			if len(projectIDs) == 0 {
				if progress {
					fmt.Fprint(errw, "Finding projects...\r")
				}
				if ps, err = c.SearchProjects(ctx, "", maxProjects); err != nil {
					return err
				}
			} else {
				for _, id := range projectIDs {
					for _, p := range strings.Split(id, ",") {
						if p = strings.TrimSpace(p); p != "" {
							ps = append(ps, projects.Project{ID: p})
						}
					}
				}
			}
			if progress {
				fmt.Fprintf(errw, "Listing instances of %d project(s)...\r", len(ps))
			}
			inv, err := c.Inventory(ctx, ps)
			if progress {
				fmt.Fprint(errw, "\033[2K")
			}
			if err != nil {
				return err
			}
			// The cache holds Google's inventory only: an emulator's world
			// must not show up in the explorer's next start against Google.
			if !eps.IsEmulator() {
				if err := projects.SaveCache(inv); err != nil {
					fmt.Fprintln(errw, "warning: could not save the inventory cache:", err)
				}
			}
			for _, id := range slices.Sorted(maps.Keys(inv.Warnings)) {
				for _, w := range inv.Warnings[id] {
					fmt.Fprintf(errw, "warning: %s: %s\n", id, w)
				}
			}
			if err := printInstances(cmd.OutOrStdout(), errw, inv, asJSON); err != nil {
				return err
			}
			// What was listed is printed; the exit status still tells a
			// script that a project asked for by name, or every project
			// searched, could not be read.
			if n := len(inv.Failed); n > 0 && (len(projectIDs) > 0 || n == len(ps)) {
				return fmt.Errorf("could not list the instances of %s (%d of %d project(s); the warnings above say why)", strings.Join(inv.Failed, ", "), n, len(ps))
			}
			return nil
		},
	}
	list.Flags().StringSliceVarP(&projectIDs, "project", "p", nil, "project ID (repeat or comma-separate for several)")
	list.Flags().IntVar(&maxProjects, "max-projects", 200, "without --project: list at most this many visible projects")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list)
	return cmd
}

// printInstances writes the inventory's instances as a table (or JSON) to
// out; "No instances found." goes to errw when every project was read and
// none has any.
func printInstances(out, errw io.Writer, inv *projects.Inventory, asJSON bool) error {
	var all []projects.Instance
	for _, p := range inv.Projects {
		all = append(all, inv.Instances[p.ID]...)
	}
	if asJSON {
		if all == nil {
			all = []projects.Instance{}
		}
		return listJSON(out, all)
	}
	if len(all) == 0 {
		if len(inv.Failed) == 0 || len(inv.Failed) < len(inv.Projects) {
			fmt.Fprintln(errw, "No instances found.")
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tZONE\tNAME\tSTATUS\tOS\tINTERNAL IP\tEXTERNAL IP\tMACHINE TYPE")
	for _, i := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Project, i.Zone, i.Name, i.Status, i.OS, orDash(i.InternalIP), orDash(i.ExternalIP), i.MachineType)
	}
	return tw.Flush()
}

func listJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
