package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"iapterm/policy"
)

// envProject is the project commands use when an INSTANCE is a bare name
// and --project is not given.
const envProject = "IAPTERM_PROJECT"

// argError is an INSTANCE argument or a flag that cannot be meant. Commands
// with a usage exit status (doctor: 2) return it as one; iapterm ssh keeps
// OpenSSH's 255.
type argError string

func (e argError) Error() string { return string(e) }

// instanceName is a Compute Engine instance name (RFC 1035 label).
var instanceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// checkInstanceName refuses a NAME that no instance can have, which would
// otherwise come back as "not found" (or, from Google, an invalid value).
func checkInstanceName(arg, name string) error {
	if instanceName.MatchString(name) {
		return nil
	}
	which := fmt.Sprintf("INSTANCE %q", arg)
	if arg != name {
		which += fmt.Sprintf(": %q", name)
	}
	msg := which + " is not an instance name: names are lowercase letters, digits and -, start with a letter and have at most 63 characters"
	if lower := strings.ToLower(name); lower != name && instanceName.MatchString(lower) {
		msg += fmt.Sprintf(" (did you mean %s?)", lower)
	}
	return argError(msg)
}

// splitInstance reads an INSTANCE argument: a bare NAME (with --project,
// else $IAPTERM_PROJECT, and --zone when given) or PROJECT/ZONE/NAME. A
// --project or --zone that names another place than PROJECT/ZONE/NAME is a
// mistake, not a choice between the two. Every command that takes an
// INSTANCE reads it here, so they all accept and refuse the same things.
func splitInstance(arg, project, zone string) (p, z, name string, err error) {
	parts := strings.Split(arg, "/")
	switch {
	case arg == "":
		return "", "", "", argError("the INSTANCE is empty: give a name, or PROJECT/ZONE/NAME")
	case len(parts) == 3:
		switch {
		case parts[0] == "":
			return "", "", "", argError(fmt.Sprintf("INSTANCE %q has no project before /ZONE/NAME", arg))
		case parts[1] == "":
			return "", "", "", argError(fmt.Sprintf("INSTANCE %q has no zone between PROJECT/ and /NAME", arg))
		case parts[2] == "":
			return "", "", "", argError(fmt.Sprintf("INSTANCE %q has no name after PROJECT/ZONE/", arg))
		}
		if err := checkInstanceName(arg, parts[2]); err != nil {
			return "", "", "", err
		}
		if project != "" && project != parts[0] {
			return "", "", "", argError(fmt.Sprintf("INSTANCE %s is in project %s, but --project says %s: give one of them", arg, parts[0], project))
		}
		if zone != "" && zone != parts[1] {
			return "", "", "", argError(fmt.Sprintf("INSTANCE %s is in zone %s, but --zone says %s: give one of them", arg, parts[1], zone))
		}
		return parts[0], parts[1], parts[2], nil
	case len(parts) != 1:
		return "", "", "", argError(fmt.Sprintf("INSTANCE %q is neither an instance name nor PROJECT/ZONE/NAME", arg))
	}
	if err := checkInstanceName(arg, arg); err != nil {
		return "", "", "", err
	}
	if project == "" {
		project = strings.TrimSpace(os.Getenv(envProject))
	}
	if project == "" {
		return "", "", "", argError(fmt.Sprintf("which project is %s in? give --project PROJECT (or set %s), or write PROJECT/ZONE/%s", arg, envProject, arg))
	}
	return project, zone, arg, nil
}

// checkAccessLevels rejects --access-level values that are not full access
// level names (a bare "corp_devices" would never match a condition, and the
// result would read as an ordinary denial).
func checkAccessLevels(levels []string) error {
	for _, l := range levels {
		if !policy.ValidAccessLevel(l) {
			return exitError{2, fmt.Sprintf("--access-level %q is not a full access level name, like accessPolicies/1234/accessLevels/corp_devices", l)}
		}
	}
	return nil
}

// exactArgs is cobra.ExactArgs with a message that shows the command line
// to write ("accepts 2 arg(s), received 1" says neither which nor how).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		what := "missing arguments"
		if len(args) > n {
			what = fmt.Sprintf("unexpected argument %q", args[n])
		}
		return fmt.Errorf("%s: %s", what, cmd.CommandPath()+strings.TrimPrefix(cmd.Use, cmd.Name()))
	}
}
