package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"iapterm/auth"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
)

func init() { register(newSSHConfigCmd) }

// sshConfigHeader starts every file ssh-config writes; a file without it
// is never overwritten.
const sshConfigHeader = "# Written by `iapterm ssh-config`."

type sshConfigFlags struct {
	projects  []string
	output    string
	noPublish bool
	user      string
	keyType   string
}

func newSSHConfigCmd() *cobra.Command {
	var f sshConfigFlags
	cmd := &cobra.Command{
		Use:   "ssh-config",
		Short: "Write OpenSSH Host blocks for every Linux VM, so `ssh VM` and VS Code Remote-SSH work",
		Long: `Print (or write to --output) an OpenSSH configuration with one Host block
per Linux VM of the projects: the connection goes through
` + "`iapterm tunnel --listen-on-stdin`" + ` as ProxyCommand, with iapterm's key, the
right user, and host keys checked against iapterm's known_hosts by instance
ID (HostKeyAlias).

Unless --no-publish is given, iapterm publishes its key for every VM now
(OS Login or metadata, as iapterm ssh does) and records the host keys the
VMs' guest agents published. Published keys expire (ssh.key_validity, 30
days by default): run ssh-config again to renew them.

A file written with --output is replaced atomically, and only if iapterm
wrote it before. Include it from ~/.ssh/config:

  iapterm ssh-config --project my-proj --output ~/.ssh/iapterm.conf
  # then, at the top of ~/.ssh/config:
  Include ~/.ssh/iapterm.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSSHConfig(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.projects, "project", nil, "project to include (repeatable; default $IAPTERM_PROJECT)")
	fl.StringVar(&f.output, "output", "", "write to this file instead of stdout")
	fl.BoolVar(&f.noPublish, "no-publish", false, "do not publish the key now (ssh works only while a published key is valid)")
	fl.StringVar(&f.user, "user", "", "login name for metadata keys (default: ssh.user, else derived from your email)")
	fl.StringVar(&f.keyType, "key-type", "", "key to use (default: ssh.key_type)")
	return cmd
}

func runSSHConfig(cmd *cobra.Command, f sshConfigFlags) error {
	ctx := cmd.Context()
	if len(f.projects) == 0 {
		if p := os.Getenv("IAPTERM_PROJECT"); p != "" {
			f.projects = []string{p}
		} else {
			return errors.New("give at least one --project PROJECT (or set IAPTERM_PROJECT)")
		}
	}
	if f.output != "" {
		if isUserSSHConfig(f.output) {
			return fmt.Errorf("--output %s is OpenSSH's own configuration file, which ssh-config never writes: write to a file of its own (--output ~/.ssh/iapterm.conf) and Include that from ~/.ssh/config", f.output)
		}
		if err := checkOwnedConfig(f.output); err != nil {
			return err
		}
	}
	env, err := newSSHEnv(cmd, true)
	if err != nil {
		return err
	}
	var vms []projects.Instance
	for _, p := range f.projects {
		list, warnings, err := env.cloud.ListInstances(ctx, p)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "iapterm: warning: %s: %s\n", p, w)
		}
		for _, in := range list {
			if in.OS != projects.Windows {
				vms = append(vms, in)
			}
		}
	}
	names := map[string]int{}
	for _, in := range vms {
		names[in.Name]++
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s Projects: %s.\n# Regenerate after adding VMs, and before published keys expire.\n", sshConfigHeader, strings.Join(f.projects, ", "))
	// Project-wide publications are done once per project.
	published := map[string]sshclient.Publication{}
	for i := range vms {
		in := &vms[i]
		s, err := env.settings(in, sshFlags{user: f.user, keyType: f.keyType}, func(string) bool { return false })
		if err != nil {
			return err
		}
		key, err := env.store.Key(s.KeyType)
		if err != nil {
			return err
		}
		user, note := env.configUser(ctx, in, s, key, f.noPublish, published)
		if note != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "iapterm: %s: %s\n", in.Name, note)
		}
		t := sshTargetOf(in, s.Port)
		if !f.noPublish {
			env.recordHostKeys(ctx, t)
		}
		hosts := []string{in.Name + "." + in.Zone + "." + in.Project}
		if names[in.Name] == 1 {
			hosts = append([]string{in.Name}, hosts...)
		}
		sshConfigBlock{
			Hosts: hosts, Note: note, HostName: in.Name, Port: s.Port, User: user,
			IdentityFile: key.Path, HostKeyAlias: sshclient.HostKeyAlias(t), KnownHosts: env.known.Path,
			Proxy: sshConfigProxyWords(in),
		}.write(&b)
	}
	if f.output == "" {
		_, err := cmd.OutOrStdout().Write(b.Bytes())
		return err
	}
	abs, err := filepath.Abs(f.output)
	if err != nil {
		return err
	}
	if err := auth.WriteFileAtomic(abs, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", abs, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %d Host blocks to %s.\nAdd this line at the top of ~/.ssh/config (before any Host block) if it is not there yet:\n\n", len(vms), abs)
	fmt.Fprintf(cmd.OutOrStdout(), "Include %s\n", sshConfigValue(abs))
	return nil
}

// sshConfigBlock is the Host block of one VM.
type sshConfigBlock struct {
	Hosts        []string // patterns: the short name when unique, and NAME.ZONE.PROJECT
	Note         string   // why the block may not work yet (a failed publication)
	HostName     string
	Port         int
	User         string // empty: OpenSSH's default
	IdentityFile string
	HostKeyAlias string
	KnownHosts   string
	Proxy        []string // ProxyCommand words; the word "%p" is ssh's port token
}

func (c sshConfigBlock) write(b *bytes.Buffer) {
	fmt.Fprintf(b, "\nHost %s\n", strings.Join(c.Hosts, " "))
	if c.Note != "" {
		fmt.Fprintf(b, "  # %s\n", strings.Join(strings.Fields(c.Note), " "))
	}
	fmt.Fprintf(b, "  HostName %s\n", c.HostName)
	if c.Port != 22 && c.Port != 0 {
		fmt.Fprintf(b, "  Port %s\n", strconv.Itoa(c.Port))
	}
	if c.User != "" {
		fmt.Fprintf(b, "  User %s\n", sshConfigArg(c.User))
	}
	fmt.Fprintf(b, "  IdentityFile %s\n  IdentitiesOnly yes\n", sshConfigArg(sshConfigTokens(c.IdentityFile)))
	fmt.Fprintf(b, "  HostKeyAlias %s\n  UserKnownHostsFile %s\n", c.HostKeyAlias, sshConfigArg(sshConfigTokens(c.KnownHosts)))
	fmt.Fprintf(b, "  StrictHostKeyChecking accept-new\n  HashKnownHosts no\n  CheckHostIP no\n")
	// ssh takes the rest of the line as the command, for the shell.
	fmt.Fprintf(b, "  ProxyCommand %s\n", sshProxyCommand(c.Proxy))
}

// sshConfigProxyWords is the command that relays one connection through
// IAP, as words.
func sshConfigProxyWords(in *projects.Instance) []string {
	words := []string{sshIaptermCommand()}
	if global.endpoint != "" {
		words = append(words, "--endpoint", global.endpoint)
	}
	return append(words, "tunnel", in.Name, "%p", "--listen-on-stdin", "--project", in.Project, "--zone", in.Zone)
}

// sshConfigTokens escapes "%", which ssh expands as a token in
// IdentityFile, UserKnownHostsFile and ProxyCommand.
func sshConfigTokens(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// sshConfigArg double-quotes an ssh_config argument that would otherwise
// split on blanks, start a comment or lose a quote character.
func sshConfigArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'#") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// isUserSSHConfig tells whether path is ~/.ssh/config, even when it does
// not exist yet: the file ssh-config asks the user to add its Include line
// to.
func isUserSSHConfig(path string) bool {
	home, err := os.UserHomeDir()
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	real := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		// Not there yet: resolve its directory.
		if d, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			return filepath.Join(d, filepath.Base(p))
		}
		return filepath.Clean(p)
	}
	return real(abs) == real(filepath.Join(home, ".ssh", "config"))
}

// checkOwnedConfig refuses to replace a file that ssh-config did not write.
func checkOwnedConfig(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.HasPrefix(data, []byte(sshConfigHeader)) {
		return nil
	}
	return fmt.Errorf("%s exists and was not written by iapterm ssh-config; it was left alone: choose another --output (and Include it from there)", path)
}

// configUser publishes the key for one VM (once per project where the
// publication is project-wide) and returns the login name; note explains a
// failure, which leaves the block usable once the problem is fixed.
func (e *sshEnv) configUser(ctx context.Context, in *projects.Instance, s sshgcp.Settings, key *sshclient.Key, noPublish bool, published map[string]sshclient.Publication) (user, note string) {
	conn, err := e.connector(s, key)
	if err != nil {
		return s.User, err.Error()
	}
	projectMeta, err := e.cloud.ProjectMetadata(ctx, in.Project)
	if err != nil {
		return s.User, err.Error()
	}
	gs := sshclient.ReadGuestSettings(in.Metadata, projectMeta)
	osLogin := (gs.OSLogin && s.Publish != "metadata") || s.Publish == "oslogin"
	class := ""
	switch {
	case osLogin:
		class = "oslogin/" + in.Project
	case !gs.BlockProjectKeys && !gs.LegacySSHKeys:
		class = "project/" + in.Project + "/" + s.User + "/" + string(key.Type)
	}
	if p, ok := published[class]; ok && class != "" {
		return p.Username, ""
	}
	if noPublish {
		if osLogin {
			lp, err := e.cloud.LoginProfile(ctx, e.creds.Email, in.Project)
			if err != nil {
				return "", err.Error()
			}
			return lp.Username(), ""
		}
		if s.User != "" {
			return s.User, ""
		}
		return sshclient.UsernameFromEmail(e.creds.Email), ""
	}
	opts := conn.Options
	opts.Username = s.User
	pub, err := conn.Publisher.Publish(ctx, sshTargetOf(in, s.Port), key.AuthorizedKey(), opts)
	if err != nil {
		return s.User, "key not published: " + err.Error()
	}
	if pub.Method != sshclient.MethodInstanceMetadata && class != "" {
		published[class] = pub
	}
	return pub.Username, ""
}

// recordHostKeys stores the host keys the guest agent published, so
// OpenSSH checks them from the first connection.
func (e *sshEnv) recordHostKeys(ctx context.Context, t sshclient.Target) {
	lines, err := sshgcp.Cloud{C: e.cloud}.GuestHostKeys(ctx, t.Project, t.Zone, t.Instance)
	if err != nil {
		return
	}
	if keys := sshclient.ParseHostKeys(lines); len(keys) > 0 {
		e.known.Replace(sshclient.HostKeyAlias(t), keys)
	}
}
