package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iapterm/policy"
)

func init() { register(newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Explain IAM policies and IAP settings offline",
		Long: `policy works on files, without calling Google: it simulates an IAM policy
(with its CEL conditions) for a member and a connection, and merges IAP
reauthentication settings across the resource hierarchy.`,
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyReauthCmd())
	return cmd
}

type policyTestFlags struct {
	file, member, permission, destIP, at, url string
	port                                      int
	levels, groups                            []string
	json                                      bool
}

func newPolicyTestCmd() *cobra.Command {
	var f policyTestFlags
	cmd := &cobra.Command{
		Use:   "test --policy FILE --member user:EMAIL --port N",
		Short: "Decide whether a member may connect under an IAM policy file, and why",
		Long: `test reads an IAM policy (getIamPolicy JSON or YAML, bare or wrapped in
{"policy": ...}) and decides whether the member holds the permission for the
given connection, explaining each binding: does the role include the
permission, is the member in it, is the condition true, and which clause of
the condition fails.

Exit status: 0 granted, 1 denied or undecidable, 2 the policy file cannot be used.`,
		Example: `  iapterm policy test --policy iap.json --member user:alice@example.com --port 22
  iapterm policy test --policy iap.json --member alice@example.com --port 3389 --dest-ip 10.0.0.1 \
      --access-level accessPolicies/1234/accessLevels/corp
  iapterm policy test --policy web.yaml --member alice@example.com --url https://app.example.com/admin`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitError{2, fmt.Sprintf("unexpected argument %q: everything is given with flags (iapterm policy test --policy FILE --member user:EMAIL --port N)", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runPolicyTest(cmd, f) },
	}
	cmd.SetFlagErrorFunc(usageExit)
	fl := cmd.Flags()
	fl.StringVar(&f.file, "policy", "", "IAM policy file (JSON or YAML); - reads standard input")
	fl.StringVar(&f.member, "member", "", "who asks: user:EMAIL, serviceAccount:EMAIL (a bare email means user:)")
	fl.StringVar(&f.permission, "permission", "", "permission or role to test (default iap.tunnelInstances.accessViaIAP, or iap.webServiceVersions.accessViaIAP with --url)")
	fl.IntVar(&f.port, "port", 0, "destination port (destination.port)")
	fl.StringVar(&f.destIP, "dest-ip", "", "destination internal IP (destination.ip)")
	fl.StringVar(&f.at, "time", "", "request time, RFC 3339 (default now)")
	fl.StringArrayVar(&f.levels, "access-level", nil, "access level the device satisfies (accessPolicies/N/accessLevels/NAME); repeatable. Given at least once, the list is taken as complete")
	fl.StringArrayVar(&f.groups, "in-group", nil, "a group the member belongs to (EMAIL); repeatable. Given at least once, the list is taken as complete; otherwise group bindings are \"cannot tell\"")
	fl.StringVar(&f.url, "url", "", "IAP web request URL (request.host, request.path)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	return cmd
}

// usageExit makes a flag that does not parse a usage error (exit status 2).
func usageExit(_ *cobra.Command, err error) error {
	return exitError{2, err.Error()}
}

// checkPolicyTestFlags rejects flag values the simulation would otherwise
// take at face value and explain as an ordinary denial.
func checkPolicyTestFlags(f policyTestFlags) error {
	switch {
	case f.file == "":
		return exitError{2, "give the policy file with --policy FILE (- reads standard input)"}
	case f.member == "":
		return exitError{2, "give who asks with --member user:EMAIL (or serviceAccount:EMAIL, group:EMAIL)"}
	}
	if kind, id, ok := strings.Cut(f.member, ":"); ok {
		if id == "" || strings.TrimSpace(kind) == "" {
			return exitError{2, fmt.Sprintf("--member %q is not like user:EMAIL, serviceAccount:EMAIL or group:EMAIL", f.member)}
		}
	} else if f.member != "allUsers" && f.member != "allAuthenticatedUsers" && !strings.Contains(f.member, "@") {
		return exitError{2, fmt.Sprintf("--member %q is not an email: give user:EMAIL, serviceAccount:EMAIL or a bare EMAIL", f.member)}
	}
	for _, g := range f.groups {
		if !strings.Contains(g, "@") {
			return exitError{2, fmt.Sprintf("--in-group %q is not a group's email, like eng@example.com", g)}
		}
	}
	if f.destIP != "" {
		if _, err := netip.ParseAddr(f.destIP); err != nil {
			return exitError{2, fmt.Sprintf("--dest-ip %q is not an IP address, like 10.128.0.2", f.destIP)}
		}
	}
	return checkAccessLevels(f.levels)
}

func readPolicyFile(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(cmd.InOrStdin(), 16<<20))
	}
	return os.ReadFile(name)
}

func runPolicyTest(cmd *cobra.Command, f policyTestFlags) error {
	out := cmd.OutOrStdout()
	if err := checkPolicyTestFlags(f); err != nil {
		return err
	}
	if f.port == 0 && f.url == "" {
		return exitError{2, "give the destination with --port N (tunnels) or --url https://HOST/PATH (web apps)"}
	}
	if f.url != "" && (f.port != 0 || f.destIP != "") {
		return exitError{2, "--url tests a request to an IAP web app, which has no destination port or IP: give --url alone, or --port (and --dest-ip) for a tunnel"}
	}
	if f.port < 0 || f.port > 65535 {
		return exitError{2, fmt.Sprintf("--port %d is not a TCP port (1-65535)", f.port)}
	}
	data, err := readPolicyFile(cmd, f.file)
	if err != nil {
		return exitError{2, fmt.Sprintf("reading the policy: %v", err)}
	}
	p, err := policy.ParsePolicy(data)
	if err != nil {
		// As the user wrote it: a base name alone can hide which file
		// ("null" for /dev/null, "iap.json" in which folder).
		name := f.file
		if f.file == "-" {
			name = "standard input"
		}
		return exitError{2, fmt.Sprintf("%s: %v", name, err)}
	}
	req := policy.Request{DestinationPort: f.port, DestinationIP: f.destIP, AccessLevels: f.levels, Time: time.Now().UTC()}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return exitError{2, fmt.Sprintf("--time %q is not RFC 3339, like 2026-05-01T09:00:00Z", f.at)}
		}
		req.Time = t
	}
	perm := f.permission
	var webNote []string
	if f.url != "" {
		host, path, err := policy.ParseURL(f.url)
		if err != nil {
			return exitError{2, err.Error()}
		}
		req.Host, req.Path = host, path
		if norm, err := policy.NormalizePath(path); err == nil && norm != path {
			webNote = append(webNote, fmt.Sprintf("path %q is normalised to %q: access needs both to pass", path, norm))
		}
		if perm == "" {
			perm = policy.PermWebAccess
		}
	}
	if perm == "" {
		perm = policy.PermTunnelAccess
	}
	// A mistyped permission or role would read as an ordinary denial.
	switch {
	case strings.HasPrefix(perm, "roles/") && !policy.KnownRole(perm):
		webNote = append(webNote, fmt.Sprintf("--permission %s is not a role iapterm knows: only bindings to exactly that role grant it here", perm))
	case !strings.Contains(perm, "/") && len(policy.RolesGranting(perm)) == 0:
		webNote = append(webNote, fmt.Sprintf("--permission %s is in no role iapterm knows: check its spelling (IAP's are %s and %s)", perm, policy.PermTunnelAccess, policy.PermWebAccess))
	}
	opts := policy.SimOptions{AccessLevelsKnown: len(f.levels) > 0}
	if len(f.groups) > 0 {
		opts.Groups = func(group, _ string) (bool, bool) {
			for _, g := range f.groups {
				if strings.EqualFold(strings.TrimPrefix(g, "group:"), group) {
					return true, true
				}
			}
			return false, true
		}
	}
	var res policy.Result
	if f.url != "" {
		var err error
		if res, err = policy.SimulateWeb(p, f.member, perm, req, opts); err != nil {
			fmt.Fprintf(out, "denied: IAP refuses this URL before any policy is checked (%v)\n", err)
			return exitError{1, ""}
		}
	} else {
		res = policy.SimulateWith(p, f.member, perm, req, opts)
	}
	var lint []string
	for i, b := range p.Bindings {
		if b.Condition == nil {
			continue
		}
		lint = append(lint, policy.LintCondition(b.Condition.Expression)...)
		if f.destIP == "" && strings.Contains(b.Condition.Expression, policy.AttrDestinationIP) {
			webNote = append(webNote, fmt.Sprintf("binding %d's condition reads %s, which is empty without --dest-ip: give the VM's internal IP to test it", i+1, policy.AttrDestinationIP))
		}
	}
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			policy.Result
			Notes    []string `json:"notes,omitempty"`
			Warnings []string `json:"warnings,omitempty"`
		}{res, webNote, lint}); err != nil {
			return err
		}
	} else {
		printSimulation(out, res, webNote, lint)
	}
	if res.Verdict != policy.Granted {
		return exitError{1, ""}
	}
	return nil
}

func printSimulation(w io.Writer, res policy.Result, notes, warnings []string) {
	fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(res.Verdict.String()), res.Summary)
	for _, b := range res.Bindings {
		mark := map[policy.Verdict]string{policy.Granted: "ok", policy.Denied: "--", policy.Unknown: "??"}[b.Verdict]
		title := ""
		if b.Condition != nil && b.Condition.Title != "" {
			title = fmt.Sprintf(" [%s]", b.Condition.Title)
		}
		fmt.Fprintf(w, "  %s binding %d: %s%s: %s\n", mark, b.Index, b.Role, title, b.Explanation)
	}
	for _, r := range res.Requirements {
		fmt.Fprintf(w, "  requires access level %s: the client cannot check it; pass --access-level to assume it\n", r)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, x := range warnings {
		fmt.Fprintf(w, "  warning: %s\n", x)
	}
}

func newPolicyReauthCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reauth ORG.yaml [FOLDER.yaml ...] SERVICE.yaml",
		Short: "Merge IAP reauthentication settings from the organisation down to a service",
		Long: `reauth reads IAP settings files (YAML or JSON with accessSettings.reauthSettings,
as 'gcloud iap settings get' prints them), top of the hierarchy first, and
shows the policy in force at each level. A MINIMUM policy binds the levels
below (stronger method, shorter maxAge); under DEFAULT a level's own setting
wins. IAP TCP forwarding and service accounts are exempt from reauthentication.
One of the files may be - (standard input).`,
		Example: `  iapterm policy reauth org.yaml folder.yaml service.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitError{2, "give the settings files, organisation first: iapterm policy reauth ORG.yaml [FOLDER.yaml ...] SERVICE.yaml"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var levels []policy.ReauthSettings
			stdin := 0
			for _, name := range args {
				if name == "-" {
					if stdin++; stdin > 1 {
						return exitError{2, "- (standard input) can be only one of the levels"}
					}
				}
				data, err := readPolicyFile(cmd, name)
				if err != nil {
					return exitError{2, fmt.Sprintf("reading %s: %v", name, err)}
				}
				if name == "-" {
					name = "standard input"
				}
				s, err := policy.ParseReauth(data)
				if err != nil {
					return exitError{2, fmt.Sprintf("%s: %v", name, err)}
				}
				s.Level = name
				levels = append(levels, s)
			}
			eff, err := policy.MergeReauth(levels)
			if err != nil {
				return exitError{2, err.Error()}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Levels []policy.Effective `json:"levels"`
					Note   string             `json:"note"`
				}{eff, policy.ReauthExemptions})
			}
			for _, e := range eff {
				fmt.Fprintln(out, e.String())
			}
			fmt.Fprintln(out, "note:", policy.ReauthExemptions)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.SetFlagErrorFunc(usageExit)
	return cmd
}
