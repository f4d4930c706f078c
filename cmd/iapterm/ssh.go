package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"iapterm/auth"
	"iapterm/endpoint"
	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/sshclient/termio"
	"iapterm/tunnel"
)

func init() { register(newSSHCmd) }

type sshFlags struct {
	project, zone, user string
	port                int
	keyType             string
	validity            time.Duration
	publish             string
	agent               bool
	dryRun, exportKey   bool
	forceTTY, noTTY     bool
	quiet               bool
}

func newSSHCmd() *cobra.Command {
	var f sshFlags
	cmd := &cobra.Command{
		Use:   "ssh INSTANCE [-- COMMAND...]",
		Short: "Open an SSH session to a VM through IAP, or run a command there",
		Long: `Open an interactive SSH session to a Linux VM through Identity-Aware Proxy,
in this terminal, or run COMMAND and exit with its status.

iapterm creates its own key on first use (Ed25519 unless ssh.key_type or
--key-type says otherwise) and publishes it before connecting: through OS
Login when the VM or project sets enable-oslogin, else as an expiring key in
the project's ssh-keys metadata (the instance's when project keys are
blocked or you may not change project metadata). Host keys are checked
against the keys the VM's guest agent published, else trusted on first use
and remembered by instance ID.

INSTANCE is a name (with --project or $IAPTERM_PROJECT, and --zone unless
the name is unique in the project) or PROJECT/ZONE/NAME.

Examples:
  iapterm ssh web-1 --project my-proj
  iapterm ssh my-proj/us-central1-a/web-1 -- uname -a
  iapterm ssh web-1 --project my-proj --dry-run     # print an OpenSSH command that works
  iapterm ssh --export-key                          # copy the key to ~/.ssh for OpenSSH
  iapterm ssh web-1 --project my-proj --export-key  # the key this VM's settings choose`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.exportKey {
				return nil
			}
			if len(args) < 1 {
				return errors.New("give the INSTANCE to connect to: iapterm ssh INSTANCE --project PROJECT [-- COMMAND...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runSSH(cmd, f, args) },
	}
	fl := cmd.Flags()
	sshTargetFlags(cmd, &f.project, &f.zone)
	fl.StringVar(&f.user, "user", "", "login name for metadata keys (default: ssh.user, else derived from your email; OS Login decides its own)")
	fl.IntVar(&f.port, "port", 0, "SSH port on the VM (default: ssh.port, 22)")
	fl.StringVar(&f.keyType, "key-type", "", "key to use: ed25519, ecdsa-p256, ecdsa-p384, rsa-3072 (default: ssh.key_type)")
	fl.DurationVar(&f.validity, "key-validity", 0, "how long the published key stays valid (default: ssh.key_validity, 720h)")
	fl.StringVar(&f.publish, "publish", "", "auto, oslogin or metadata (default: ssh.publish, auto)")
	fl.BoolVar(&f.agent, "agent", false, "also offer the keys of the ssh-agent at SSH_AUTH_SOCK (default: ssh.agent)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "publish the key, record the host key, and print the equivalent OpenSSH command instead of connecting")
	fl.BoolVar(&f.exportKey, "export-key", false, "copy the key iapterm ssh uses (for INSTANCE when given: its ssh.key_type) to ~/.ssh/iapterm_TYPE (+ .pub) for OpenSSH and exit")
	fl.BoolVarP(&f.forceTTY, "tty", "t", false, "request a terminal even for COMMAND")
	fl.BoolVarP(&f.noTTY, "no-tty", "T", false, "never request a terminal")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress messages")
	return cmd
}

func sshTargetFlags(cmd *cobra.Command, project, zone *string) {
	cmd.Flags().StringVar(project, "project", "", "project of the instance (default $IAPTERM_PROJECT)")
	cmd.Flags().StringVar(zone, "zone", "", "zone of the instance (found from the project when omitted)")
}

// sshEnv is everything an SSH-based command needs.
type sshEnv struct {
	eps    endpoint.Endpoints
	creds  *auth.Credentials
	cloud  *projects.Client
	dialer *tunnel.Dialer
	known  *sshclient.KnownHosts
	store  sshclient.KeyStore
	cfg    *profiles.Config
	stderr io.Writer
	quiet  bool
}

func newSSHEnv(cmd *cobra.Command, quiet bool) (*sshEnv, error) {
	ctx := cmd.Context()
	eps, err := endpoint.FromEnv(global.endpoint)
	if err != nil {
		return nil, err
	}
	store, err := auth.DefaultStore()
	if err != nil {
		return nil, err
	}
	creds, err := auth.Resolve(ctx, eps, store)
	if err != nil {
		return nil, err
	}
	cloud, err := projects.NewClient(ctx, eps, creds.TokenSource)
	if err != nil {
		return nil, err
	}
	keys, err := sshclient.DefaultKeyStore()
	if err != nil {
		return nil, err
	}
	khPath, err := sshclient.DefaultKnownHostsPath()
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	return &sshEnv{
		eps:   eps,
		creds: creds,
		cloud: cloud,
		dialer: &tunnel.Dialer{
			Endpoints: eps,
			Tokens:    creds.TokenSource,
			UserAgent: "iapterm/" + version,
			Logger:    slog.New(sshWarnings{w: cmd.ErrOrStderr(), level: slog.LevelError}),
		},
		known:  &sshclient.KnownHosts{Path: khPath},
		store:  keys,
		cfg:    cfg,
		stderr: cmd.ErrOrStderr(),
		quiet:  quiet,
	}, nil
}

// resolve finds a running Linux instance (project, zone and name as
// splitInstance returns them).
func (e *sshEnv) resolve(ctx context.Context, project, zone, name string) (*projects.Instance, error) {
	inst, err := e.cloud.Resolve(ctx, project, zone, name)
	if err != nil {
		return nil, err
	}
	if inst.OS == projects.Windows {
		return nil, fmt.Errorf("%s is a Windows VM: connect with `iapterm rdp %s --project %s --zone %s`", inst.Name, inst.Name, inst.Project, inst.Zone)
	}
	if !inst.Running() {
		return nil, notRunning(inst)
	}
	return inst, nil
}

// notRunning says how to get inst running: resume a suspended VM, start
// a stopped one, wait for one on its way.
func notRunning(inst *projects.Instance) error {
	where := fmt.Sprintf("%s --project %s --zone %s", inst.Name, inst.Project, inst.Zone)
	doctor := fmt.Sprintf("iapterm doctor %s/%s/%s --start", inst.Project, inst.Zone, inst.Name)
	switch inst.Status {
	case "SUSPENDED":
		return fmt.Errorf("%s is SUSPENDED, not RUNNING: resume it first (`gcloud compute instances resume %s`, or `%s`, or from the explorer, iapterm ui)", inst.Name, where, doctor)
	case "TERMINATED", "STOPPED":
		return fmt.Errorf("%s is %s, not RUNNING: start it first (`gcloud compute instances start %s`, or `%s`, or from the explorer, iapterm ui)", inst.Name, inst.Status, where, doctor)
	case "PROVISIONING", "STAGING":
		return fmt.Errorf("%s is %s: it is starting; try again when it is RUNNING (a minute or so)", inst.Name, inst.Status)
	}
	return fmt.Errorf("%s is %s, not RUNNING: wait until it has stopped or suspended, then start or resume it (`gcloud compute instances describe %s --format='value(status)'` shows its state)", inst.Name, inst.Status, where)
}

// settings are the effective ssh.* settings for inst with the command
// line's flags on top.
func (e *sshEnv) settings(inst *projects.Instance, f sshFlags, changed func(string) bool) (sshgcp.Settings, error) {
	eff := e.cfg.Resolve(profiles.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Labels: inst.Labels})
	g, err := sshgcp.ReadSettings(eff)
	if err != nil {
		return sshgcp.Settings{}, err
	}
	if f.user != "" {
		if err := profiles.CheckLoginName("--user", f.user); err != nil {
			return sshgcp.Settings{}, err
		}
		g.User = f.user
	}
	if changed("port") || f.port != 0 {
		// 0 would silently mean the default port.
		if f.port < 1 || f.port > 65535 {
			return sshgcp.Settings{}, fmt.Errorf("--port %d is not a TCP port (1-65535)", f.port)
		}
		g.Port = f.port
	}
	if f.keyType != "" {
		if g.KeyType, err = sshclient.ParseKeyType(f.keyType); err != nil {
			return sshgcp.Settings{}, err
		}
	}
	if f.validity < 0 || (f.validity == 0 && changed("key-validity")) {
		return sshgcp.Settings{}, fmt.Errorf("--key-validity %s is not a positive duration: give one like 1h or 720h (how long the published key stays valid)", f.validity)
	}
	if f.validity != 0 {
		g.Validity = f.validity
	}
	if f.publish != "" {
		g.Publish = f.publish
	}
	if changed("agent") {
		g.Agent = f.agent
	}
	if err := g.Check(); err != nil {
		return sshgcp.Settings{}, err
	}
	return g, nil
}

func sshTargetOf(inst *projects.Instance, port int) sshclient.Target {
	return sshgcp.Target(inst, port)
}

// connector builds the sshclient.Connector for one instance.
func (e *sshEnv) connector(s sshgcp.Settings, key *sshclient.Key) (*sshclient.Connector, error) {
	if e.creds.Email == "" {
		return nil, errors.New("iapterm does not know your email (needed to publish the SSH key): sign in with `iapterm auth login`, or use credentials whose email the userinfo endpoint returns")
	}
	c := sshgcp.Connector(e.cloud, e.dialer)
	c.KnownHosts = e.known
	c.Prompter = sshTermPrompter{out: e.stderr}
	c.Options.Email = e.creds.Email
	c.Logger = slog.New(sshWarnings{w: e.stderr})
	s.Configure(c, key)
	switch {
	case e.quiet:
	case sshIsTerminal(e.stderr):
		c.Progress = func(t sshclient.Target, st sshclient.Step) {
			if st == sshclient.StepConnected {
				fmt.Fprint(e.stderr, "\r\033[K")
				return
			}
			fmt.Fprintf(e.stderr, "\r\033[K%s: %s…", t.Instance, st)
		}
	default:
		// No progress line, but the wait for a new key can last a minute
		// or more: say so once, or a script's log shows only silence.
		var said bool
		c.Progress = func(t sshclient.Target, st sshclient.Step) {
			if st == sshclient.StepWaitingAgent && !said {
				said = true
				fmt.Fprintf(e.stderr, "iapterm: %s has not accepted the new SSH key yet; waiting up to %s for its guest agent to install it\n", t.Instance, c.KeyWait())
			}
		}
	}
	return c, nil
}

// sshWarnings prints the connection's warnings (an unreachable ssh-agent,
// unanswered keepalives) as messages on stderr, "iapterm: warning: what:
// why", without the log's timestamp and key=value form.
type sshWarnings struct {
	w     io.Writer
	level slog.Level // the least that is printed; 0 is Info, raised to Warn
	// isTerminal says whether w is a terminal (sshIsTerminal when nil).
	isTerminal func(io.Writer) bool
}

func (h sshWarnings) Enabled(_ context.Context, l slog.Level) bool {
	return l >= max(h.level, slog.LevelWarn)
}

func (h sshWarnings) Handle(_ context.Context, r slog.Record) error {
	isTerminal := h.isTerminal
	if isTerminal == nil {
		isTerminal = sshIsTerminal
	}
	tty := isTerminal(h.w)
	var b strings.Builder
	if tty {
		// Over the progress line.
		b.WriteString("\r\033[K")
	}
	b.WriteString("iapterm: ")
	if r.Level < slog.LevelError {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			b.WriteString(": " + a.Value.String())
		} else {
			b.WriteString(" (" + a.Key + " " + a.Value.String() + ")")
		}
		return true
	})
	// A warning can come while the session holds the terminal in raw
	// mode, where a bare newline does not return to the first column.
	if tty {
		b.WriteString("\r\n")
	} else {
		b.WriteString("\n")
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h sshWarnings) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h sshWarnings) WithGroup(string) slog.Handler      { return h }

func sshIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runSSH(cmd *cobra.Command, f sshFlags, args []string) error {
	ctx := cmd.Context()
	if f.exportKey {
		return sshExportKey(cmd, f, args)
	}
	// A mistyped INSTANCE is reported before signing in.
	project, zone, name, err := splitInstance(args[0], f.project, f.zone)
	if err != nil {
		return sshFailed(ctx, err)
	}
	env, err := newSSHEnv(cmd, f.quiet)
	if err != nil {
		return sshFailed(ctx, err)
	}
	inst, err := env.resolve(ctx, project, zone, name)
	if err != nil {
		return sshFailed(ctx, err)
	}
	s, err := env.settings(inst, f, cmd.Flags().Changed)
	if err != nil {
		return sshFailed(ctx, err)
	}
	key, err := env.store.Key(s.KeyType)
	if err != nil {
		return sshFailed(ctx, err)
	}
	conn, err := env.connector(s, key)
	if err != nil {
		return sshFailed(ctx, err)
	}
	target := s.Target(inst)
	client, err := conn.Connect(ctx, target)
	if err != nil {
		return sshFailed(ctx, err)
	}
	defer client.Close()
	command := strings.Join(args[1:], " ")
	if f.dryRun {
		client.Close()
		// OpenSSH's own -t and -T where they change what it does.
		tty := ""
		switch {
		case f.noTTY && command == "":
			tty = "-T"
		case f.forceTTY && !f.noTTY && command != "":
			tty = "-t"
		}
		fmt.Fprintln(cmd.OutOrStdout(), sshOpenSSHCommand(inst, s.Port, client.User, key.Path, env.known.Path, tty, command))
		return nil
	}
	sess, err := client.NewSession()
	if err != nil {
		return sshFailed(ctx, err)
	}
	pty := (command == "" || f.forceTTY) && !f.noTTY
	if f.forceTTY && !f.noTTY && !f.quiet && !(sshIsTerminal(os.Stdin) && sshIsTerminal(os.Stdout)) {
		fmt.Fprintln(cmd.ErrOrStderr(), "iapterm: warning: -t: no terminal for the VM, since this one's input or output is not a terminal")
	}
	code, err := termio.Run(ctx, sess, os.Stdin, os.Stdout, cmd.ErrOrStderr(), termio.Options{Command: command, PTY: pty})
	if err != nil {
		return sshFailed(ctx, err)
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// sshFailed is iapterm ssh's exit when the remote command could not run to
// its end: 130 when interrupted (Ctrl-C closes the session, which then
// ends without a status), else 255 like OpenSSH, so that scripts can tell
// a failure to connect (an unknown instance included) from the command's
// own status.
func sshFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return exitError{code: 130}
	}
	return exitError{code: 255, msg: err.Error()}
}

// sshExportKey copies the key iapterm ssh would use to ~/.ssh: for
// INSTANCE, the key type its settings give (instance, zone, project and
// label selector layers, --key-type on top); without one, the global
// settings' type.
func sshExportKey(cmd *cobra.Command, f sshFlags, args []string) error {
	ctx := cmd.Context()
	if len(args) > 1 {
		return fmt.Errorf("--export-key copies a key and runs nothing: give at most the INSTANCE whose key to export, not %q", strings.Join(args[1:], " "))
	}
	var kt sshclient.KeyType
	var err error
	if len(args) == 1 {
		project, zone, name, err := splitInstance(args[0], f.project, f.zone)
		if err != nil {
			return err
		}
		env, err := newSSHEnv(cmd, true)
		if err != nil {
			return err
		}
		// The key does not depend on the VM running: any state will do.
		inst, err := env.cloud.Resolve(ctx, project, zone, name)
		if err != nil {
			return err
		}
		s, err := env.settings(inst, f, cmd.Flags().Changed)
		if err != nil {
			return err
		}
		kt = s.KeyType
	} else {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		kt, err = sshclient.ParseKeyType(cfg.Resolve(profiles.Target{}).String("ssh.key_type"))
		if err != nil {
			return fmt.Errorf("ssh.key_type: %w", err)
		}
		if f.keyType != "" {
			if kt, err = sshclient.ParseKeyType(f.keyType); err != nil {
				return err
			}
		}
	}
	store, err := sshclient.DefaultKeyStore()
	if err != nil {
		return err
	}
	key, err := store.Key(kt)
	if err != nil {
		return err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	priv, pub, err := sshclient.ExportKey(key, filepath.Join(home, ".ssh"))
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", priv, pub)
	fmt.Fprintf(cmd.ErrOrStderr(), "Exported %s (%s). Use it with: ssh -i %s ...\n", kt, key.Fingerprint(), sshShellQuote(priv))
	return nil
}

// sshIaptermCommand is how OpenSSH should run this program: the bare name
// when PATH finds this very binary, else its absolute path.
func sshIaptermCommand() string {
	self, err := os.Executable()
	if err != nil {
		return "iapterm"
	}
	if p, err := exec.LookPath("iapterm"); err == nil {
		a, _ := filepath.EvalSymlinks(p)
		b, _ := filepath.EvalSymlinks(self)
		if a == b {
			return "iapterm"
		}
	}
	return self
}

// sshProxyCommand is the ProxyCommand that relays one connection through
// IAP, quoted for the shell ssh runs it with and with "%" escaped, since
// ssh expands tokens in it; only the port stays a token.
func sshProxyCommand(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if w == "%p" {
			q[i] = w
		} else {
			q[i] = sshConfigTokens(sshShellQuote(w))
		}
	}
	return strings.Join(q, " ")
}

// sshConfigValue quotes a path for an ssh option that splits on spaces.
func sshConfigValue(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// sshOpenSSHCommand prints the OpenSSH command line equivalent to iapterm ssh.
// tty is "", "-t" or "-T".
func sshOpenSSHCommand(inst *projects.Instance, port int, user, keyPath, knownHosts, tty, command string) string {
	t := sshTargetOf(inst, port)
	words := []string{"ssh", "-i", sshConfigTokens(keyPath),
		"-o", "IdentitiesOnly=yes",
		"-o", "ProxyCommand=" + sshProxyCommand(sshConfigProxyWords(inst)),
		"-o", "HostKeyAlias=" + sshclient.HostKeyAlias(t),
		"-o", "UserKnownHostsFile=" + sshConfigValue(sshConfigTokens(knownHosts)),
		"-o", "StrictHostKeyChecking=yes",
		"-o", "CheckHostIP=no",
	}
	if port != 22 {
		words = append(words, "-p", strconv.Itoa(port))
	}
	if tty != "" {
		words = append(words, tty)
	}
	words = append(words, user+"@"+inst.Name)
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = sshShellQuote(w)
	}
	out := strings.Join(q, " ")
	if command != "" {
		out += " -- " + sshShellQuote(command)
	}
	return out
}

var sshShellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// sshShellQuote quotes s for a POSIX shell.
func sshShellQuote(s string) string {
	if sshShellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshTermPrompter asks on the controlling terminal.
type sshTermPrompter struct{ out io.Writer }

func (p sshTermPrompter) tty() (*os.File, func(), error) {
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return nil, nil, errors.New("the VM asks for an answer (password or verification code) but there is no terminal to ask on")
	}
	return f, func() { f.Close() }, nil
}

func (p sshTermPrompter) ask(question string, echo bool) (string, error) {
	in, done, err := p.tty()
	if err != nil {
		return "", err
	}
	defer done()
	fmt.Fprint(p.out, question)
	if !echo {
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(p.out)
		return string(b), err
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		n, err := in.Read(buf)
		if n == 1 && buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		if err != nil && len(line) == 0 {
			return "", err
		}
		return strings.TrimRight(string(line), "\r"), nil
	}
}

func (p sshTermPrompter) KeyboardInteractive(_ context.Context, user, instruction string, questions []string, echo []bool) ([]string, error) {
	if instruction != "" {
		fmt.Fprintln(p.out, "\r\033[K"+instruction)
	}
	answers := make([]string, len(questions))
	for i, q := range questions {
		a, err := p.ask(q, i < len(echo) && echo[i])
		if err != nil {
			return nil, err
		}
		answers[i] = a
	}
	return answers, nil
}

func (p sshTermPrompter) Password(_ context.Context, user string) (string, error) {
	return p.ask("\r\033[K"+user+"'s password: ", false)
}
