package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"iapterm/auth"
	"iapterm/endpoint"
	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
)

func init() { register(newRDPCmd) }

// rdpFlags are the flags of `iapterm rdp` (and some of `iapterm open`).
type rdpFlags struct {
	project, zone   string
	user, domain    string
	port, localPort int
	client          string
	generate        bool
	admin           bool
	savePassword    bool
	forgetPassword  bool
	passwordStdin   bool
	timeout         time.Duration
	size            string
	fullScreen      bool
	colorDepth      int
	audio           string
	clipboard       bool
	drives          bool
	printers        bool
	smartcards      bool
	nla             bool
	adminSession    bool
	checkCert       bool
	yes             bool
	clientArgs      []string
	// fromLink is set by iapterm open: the settings come from an
	// iap-rdp link, which anyone can write, so resetting a password
	// needs a confirmation that defaults to no.
	fromLink bool
}

func newRDPCmd() *cobra.Command {
	var f rdpFlags
	cmd := &cobra.Command{
		Use:   "rdp INSTANCE|PROJECT/ZONE/INSTANCE",
		Short: "Open a tunnel to a VM's RDP port and launch your RDP client on it",
		Long: `Open an IAP tunnel to the VM's RDP port on a loopback port, launch the RDP
client found on this machine (FreeRDP, Remmina, Windows App, mstsc) against
it, and keep the tunnel open until the client exits.

The password comes, in this order, from --password-stdin, from new
credentials (--generate-credentials), from the OS keyring (saved earlier
with --save-password), or from a prompt. It is given to FreeRDP on its
stdin and never on a command line. mstsc, Windows App and Remmina cannot be
given a password safely: type it in the client.`,
		Example: `  iapterm rdp win-1 --project my-project --zone us-central1-a --user alice
  iapterm rdp win-1 --project my-project --user alice --generate-credentials --save-password
  echo "$PASSWORD" | iapterm rdp win-1 --project my-project --user alice --password-stdin
  iapterm rdp win-1 --project my-project --user alice --forget-password`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRDP(cmd, rdpRun{flags: f, instance: args[0], override: func(s *rdp.Settings) error { return f.apply(cmd, s) }})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project of the instance (default $IAPTERM_PROJECT)")
	fl.StringVar(&f.zone, "zone", "", "zone of the instance (default: found by name)")
	fl.StringVar(&f.user, "user", "", `Windows username (DOMAIN\user also sets the domain)`)
	fl.StringVar(&f.domain, "domain", "", "Windows domain (NetBIOS name)")
	fl.IntVar(&f.port, "port", rdp.DefaultPort, "the VM's RDP port")
	fl.IntVar(&f.localPort, "local-port", 0, "local port of the tunnel (default: a stable port for this VM)")
	fl.StringVar(&f.client, "client", "", "RDP client program or macOS .app (default: $IAPTERM_RDP_CLIENT, else discovered)")
	fl.BoolVar(&f.generate, "generate-credentials", false, "create the account or reset its password through the guest agent first")
	fl.BoolVar(&f.admin, "admin", false, "with --generate-credentials: add the account to Administrators")
	fl.BoolVar(&f.savePassword, "save-password", false, "save the password in the OS keyring (service iapterm-rdp)")
	fl.BoolVar(&f.forgetPassword, "forget-password", false, "delete the password saved for this VM and user from the OS keyring, then exit without connecting")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fl.DurationVar(&f.timeout, "timeout", rdp.DefaultCredentialTimeout, "how long to wait for the guest agent with --generate-credentials")
	fl.StringVar(&f.size, "size", "auto", "desktop size: auto (follow the window), screen, or WIDTHxHEIGHT")
	fl.BoolVar(&f.fullScreen, "full-screen", false, "start in full screen")
	fl.IntVar(&f.colorDepth, "color-depth", 24, "colour depth: 16, 24 or 32")
	fl.StringVar(&f.audio, "audio", "local", "where audio plays: local, remote or off")
	fl.BoolVar(&f.clipboard, "clipboard", true, "share the clipboard")
	fl.BoolVar(&f.drives, "drives", false, "share your home directory as a drive")
	fl.BoolVar(&f.printers, "printers", false, "share local printers")
	fl.BoolVar(&f.smartcards, "smartcards", false, "share smart cards")
	fl.BoolVar(&f.nla, "nla", true, "allow Network Level Authentication")
	fl.BoolVar(&f.adminSession, "admin-session", false, "connect to the admin (console) session")
	fl.BoolVar(&f.checkCert, "check-certificate", false, "check the server certificate (it never matches 127.0.0.1, so clients will warn or refuse)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask before resetting a password")
	fl.StringArrayVar(&f.clientArgs, "client-arg", nil, "extra argument for FreeRDP or Remmina, e.g. --client-arg=/kbd:0x407 (repeatable; never a password)")
	return cmd
}

// apply sets the flags given on the command line on s; flags left at
// their defaults keep the value from the settings file.
func (f rdpFlags) apply(cmd *cobra.Command, s *rdp.Settings) error {
	ch := cmd.Flags().Changed
	if ch("user") {
		s.Username = f.user
		// DOMAIN\user, as Windows writes it, unless --domain is given too.
		if d, u, ok := strings.Cut(f.user, `\`); ok && !ch("domain") {
			s.Domain, s.Username = d, u
		}
	}
	if ch("domain") {
		s.Domain = f.domain
	}
	if ch("port") {
		s.Port = f.port
	}
	if ch("size") {
		if err := s.SetDesktopSize(f.size); err != nil {
			return fmt.Errorf("--size: %w", err)
		}
	}
	if ch("full-screen") {
		s.FullScreen = f.fullScreen
	}
	if ch("color-depth") {
		switch f.colorDepth {
		case 16:
			s.ColorDepth = rdp.HighColor
		case 24:
			s.ColorDepth = rdp.TrueColor
		case 32:
			s.ColorDepth = rdp.DeepColor
		default:
			return fmt.Errorf("--color-depth %d: use 16, 24 or 32", f.colorDepth)
		}
	}
	if ch("audio") {
		if err := s.SetAudio(f.audio); err != nil {
			return fmt.Errorf("--audio: %w", err)
		}
	}
	if ch("clipboard") {
		s.RedirectClipboard = f.clipboard
	}
	if ch("drives") {
		s.RedirectDrives = f.drives
	}
	if ch("printers") {
		s.RedirectPrinters = f.printers
	}
	if ch("smartcards") {
		s.RedirectSmartCards = f.smartcards
	}
	if ch("nla") {
		s.NLA = rdp.NLAEnabled
		if !f.nla {
			s.NLA = rdp.NLADisabled
		}
	}
	if ch("admin-session") {
		s.AdminSession = f.adminSession
	}
	if ch("check-certificate") {
		s.IgnoreCertificate = !f.checkCert
	}
	if f.generate {
		s.CredentialGeneration = rdp.CredentialsForce
	}
	return nil
}

// rdpRun is one `iapterm rdp` or `iapterm open` invocation.
type rdpRun struct {
	flags    rdpFlags
	instance string
	// override applies what the command line (flags or a link) gives over
	// the defaults and the settings file.
	override func(*rdp.Settings) error
}

// rdpCloud is what the RDP commands need from the signed-in user.
type rdpCloud struct {
	eps   endpoint.Endpoints
	creds *auth.Credentials
	api   *projects.Client
}

func rdpOpenCloud(ctx context.Context) (*rdpCloud, error) {
	creds, eps, err := credentials(ctx)
	if err != nil {
		return nil, err
	}
	api, err := projects.NewClient(ctx, eps, creds.TokenSource)
	if err != nil {
		return nil, err
	}
	return &rdpCloud{eps: eps, creds: creds, api: api}, nil
}

// rdpMetadataAPI adapts projects.Client to rdp.MetadataAPI.
type rdpMetadataAPI struct{ c *projects.Client }

func (m rdpMetadataAPI) UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(map[string]string) (bool, error)) error {
	return m.c.UpdateInstanceMetadata(ctx, project, zone, name, update)
}

func (m rdpMetadataAPI) SerialPort(ctx context.Context, project, zone, name string, port int, start int64) (string, int64, error) {
	return m.c.SerialPort(ctx, project, zone, name, port, start)
}

// rdpStdinIsTerminal reports whether prompts can be answered.
func rdpStdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// errRDPPromptCancelled ends the command when Ctrl-C is pressed at a prompt.
var errRDPPromptCancelled = exitError{code: 130, msg: "cancelled"}

// rdpInterruptible runs read, a blocking read of the terminal, so that
// Ctrl-C (ctx cancelled) ends the wait at once instead of after the next
// Enter: the first Ctrl-C only cancels ctx, it does not end the process.
// onCancel (may be nil) runs then, e.g. to turn echo back on.
func rdpInterruptible(ctx context.Context, read func() (string, error), onCancel func()) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := read()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		if onCancel != nil {
			onCancel()
		}
		return "", errRDPPromptCancelled
	}
}

// rdpAsk asks a yes/no question on stderr; def is the answer to an empty
// line. Ctrl-C while it waits returns errRDPPromptCancelled.
func rdpAsk(ctx context.Context, in *bufio.Reader, w io.Writer, question string, def bool) (bool, error) {
	hint := "[y/N]"
	if def {
		hint = "[Y/n]"
	}
	fmt.Fprintf(w, "%s %s ", question, hint)
	line, err := rdpInterruptible(ctx, func() (string, error) { return in.ReadString('\n') }, func() { fmt.Fprintln(w) })
	if errors.Is(err, errRDPPromptCancelled) {
		return false, err
	}
	if err != nil && line == "" {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// rdpReadPassword reads a password from the terminal without echo; Ctrl-C
// ends the wait and turns echo back on.
func rdpReadPassword(ctx context.Context) (string, error) {
	fd := int(os.Stdin.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	return rdpInterruptible(ctx, func() (string, error) {
		b, err := term.ReadPassword(fd)
		return string(b), err
	}, func() { term.Restore(fd, state) })
}

// passwordFromStdin reads --password-stdin's password: the first line of
// stdin, or, when stdin is a terminal someone types at, a line read
// without echo so that the password does not show on the screen.
func passwordFromStdin(stdin *bufio.Reader, typed bool, readHidden func() (string, error)) (string, error) {
	var line string
	var err error
	if typed {
		line, err = readHidden()
	} else {
		line, err = stdin.ReadString('\n')
	}
	if err != nil && line == "" {
		return "", fmt.Errorf("--password-stdin: no password on stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("--password-stdin: the first line of stdin is empty")
	}
	return password, nil
}

func runRDP(cmd *cobra.Command, r rdpRun) error {
	ctx := cmd.Context()
	f := r.flags
	stderr := cmd.ErrOrStderr()
	stdin := bufio.NewReader(cmd.InOrStdin())
	project, zone, name, err := splitInstance(r.instance, f.project, f.zone)
	if err != nil {
		return err
	}
	var password string
	if f.passwordStdin {
		typed := cmd.InOrStdin() == os.Stdin && rdpStdinIsTerminal()
		if typed {
			fmt.Fprint(stderr, "Password: ")
		}
		password, err = passwordFromStdin(stdin, typed, func() (string, error) { return rdpReadPassword(ctx) })
		if typed {
			fmt.Fprintln(stderr)
		}
		if err != nil {
			return err
		}
	}

	cloud, err := rdpOpenCloud(ctx)
	if err != nil {
		return err
	}
	inst, err := cloud.api.Resolve(ctx, project, zone, name)
	if err != nil {
		return err
	}
	s := rdp.DefaultSettings()
	clientPath := f.client
	if cfg, err := loadConfig(cmd); err == nil {
		eff := cfg.Resolve(profiles.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Labels: inst.Labels})
		if err := s.ApplyConfig(eff); err != nil {
			return err
		}
		if clientPath == "" {
			clientPath = eff.String("rdp.client")
		}
	}
	if r.override != nil {
		if err := r.override(&s); err != nil {
			return err
		}
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if f.forgetPassword {
		return rdpForgetPassword(stderr, inst, s.Username)
	}
	if !inst.Running() {
		return notRunning(inst)
	}
	if inst.OS != projects.Windows {
		fmt.Fprintf(stderr, "Note: %s runs %s, not Windows: RDP works only if it runs an RDP server (such as xrdp) on port %d; for a shell, use iapterm ssh %s --project %s --zone %s\n", inst.Name, orDash(string(inst.OS)), s.Port, inst.Name, inst.Project, inst.Zone)
	}
	client, err := rdp.FindClient(ctx, rdp.FindOptions{Path: clientPath})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "RDP client: %s\n", client)
	if inst.OS != projects.Windows && s.CredentialGeneration == rdp.CredentialsForce {
		return fmt.Errorf("instance %s is not a Windows VM: Windows credentials cannot be generated for it", inst.Key())
	}

	generate := s.CredentialGeneration == rdp.CredentialsForce
	if password == "" && !generate && s.Username != "" {
		if pw, found, err := rdp.LoadPassword(inst.Project, inst.Zone, inst.Name, s.Username); err != nil {
			fmt.Fprintf(stderr, "iapterm: %v (continuing without a saved password)\n", err)
		} else if found {
			password = pw
			fmt.Fprintln(stderr, "Using the password saved in the OS keyring.")
		}
	}
	if password == "" && !generate && inst.OS == projects.Windows && rdpStdinIsTerminal() {
		switch s.CredentialGeneration {
		case rdp.CredentialsAllow, rdp.CredentialsAllowIfNoneFound:
			if generate, err = rdpAsk(ctx, stdin, stderr, "No saved password. Generate new Windows credentials?", false); err != nil {
				return err
			}
		}
	}
	if generate {
		if s.Username == "" {
			s.Username = rdp.SuggestUsername(cloud.creds.Email)
			if s.Username == "" {
				return errors.New("no Windows username: give one with --user")
			}
		}
		creds, err := rdpGenerateCredentials(ctx, cmd, cloud, inst, s.Username, f, stdin)
		if err != nil {
			return err
		}
		password = creds.Password
		// Shown once: it is not stored anywhere unless saved above.
		fmt.Fprintf(cmd.OutOrStdout(), "Username: %s\nPassword: %s\n", creds.Username, creds.Password)
		if !client.PasswordOnStdin() {
			// The user must type it: offer the clipboard.
			rdp.CopyToClipboard(stderr, creds.Password)
			fmt.Fprintln(stderr, "The password was also sent to the terminal clipboard (OSC 52) for pasting into the client.")
		}
	}
	if password == "" && client.PasswordOnStdin() && s.Username != "" && rdpStdinIsTerminal() && !f.passwordStdin {
		fmt.Fprintf(stderr, "Password for %s on %s (empty: type it in the client): ", s.Username, inst.Name)
		pw, err := rdpReadPassword(ctx)
		fmt.Fprintln(stderr)
		if errors.Is(err, errRDPPromptCancelled) {
			return err
		}
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		password = pw
	}
	if password != "" && f.savePassword && !generate {
		if err := rdp.SavePassword(inst.Project, inst.Zone, inst.Name, s.Username, password); err != nil {
			fmt.Fprintf(stderr, "iapterm: %v\n", err)
		} else {
			fmt.Fprintln(stderr, "Password saved in the OS keyring.")
		}
	}
	launchPassword := password
	if !client.PasswordOnStdin() {
		launchPassword = ""
	} else if password == "" {
		fmt.Fprintln(stderr, "No password: FreeRDP cannot ask for one when started from iapterm, so the server's own logon screen (if any) will. Servers that require NLA refuse this: give --password-stdin, a saved password, or --generate-credentials.")
	}

	d := &tunnel.Dialer{
		Endpoints: cloud.eps,
		Tokens:    cloud.creds.TokenSource,
		UserAgent: "iapterm/" + version,
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	pool := tunnel.NewPool(d, tunnel.WithDefaultLocalPorts(), tunnel.WithListenOptions(tunnel.ListenOptions{
		TestConnection: true,
		OnConnError:    func(err error) { fmt.Fprintln(stderr, "iapterm: tunnel:", err) },
	}))
	defer pool.Close()
	target := tunnel.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name}
	fmt.Fprintln(stderr, "Opening the tunnel and testing that it connects.")
	forward := rdp.PoolForwarder(pool, target, f.localPort)

	sess, err := rdp.Launch(ctx, rdp.LaunchOptions{
		Client:    client,
		Settings:  s,
		Password:  launchPassword,
		Forward:   forward,
		Name:      inst.Name,
		ExtraArgs: f.clientArgs,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Tunnel: %s -> %s port %d\n", sess.Addr, inst.Name, s.Port)
	fmt.Fprintf(stderr, "Started %s (pid %d); its output goes to %s. The tunnel closes when it exits; Ctrl-C ends both.\n", client, sess.PID, sess.LogPath)
	err = sess.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "Stopped the client and closed the tunnel.")
		return exitError{code: 130}
	}
	fmt.Fprintln(stderr, "The client exited; tunnel closed.")
	return err
}

// rdpForgetPassword deletes the password saved for user on inst.
func rdpForgetPassword(w io.Writer, inst *projects.Instance, user string) error {
	if user == "" {
		return errors.New("--forget-password needs the Windows username: give --user or set rdp.user")
	}
	if err := rdp.DeletePassword(inst.Project, inst.Zone, inst.Name, user); err != nil {
		return err
	}
	fmt.Fprintf(w, "No password is saved for %s on %s any more.\n", user, inst.Key())
	return nil
}

// rdpGenerateCredentials asks before resetting (on a terminal), runs the
// guest-agent exchange with progress on stderr, and saves the password
// when asked to.
func rdpGenerateCredentials(ctx context.Context, cmd *cobra.Command, cloud *rdpCloud, inst *projects.Instance, user string, f rdpFlags, stdin *bufio.Reader) (rdp.Credentials, error) {
	stderr := cmd.ErrOrStderr()
	if err := rdp.ValidateUsername(user); err != nil {
		return rdp.Credentials{}, err
	}
	if f.fromLink && !f.yes && !rdpStdinIsTerminal() {
		return rdp.Credentials{}, fmt.Errorf("the iap-rdp link asks to create the Windows account %q on %s or reset its password, which needs your confirmation: open the link in a terminal, or run iapterm open with --yes", user, inst.Key())
	}
	if !f.yes && rdpStdinIsTerminal() {
		fmt.Fprintf(stderr, "This creates the Windows account %q on %s if it does not exist, or resets its password.\n"+
			"Resetting a password makes data Windows encrypted with the old one (EFS files, saved credentials) unreadable.\n", user, inst.Name)
		if f.fromLink {
			fmt.Fprintln(stderr, "The iap-rdp link you opened asks for this.")
		}
		ok, err := rdpAsk(ctx, stdin, stderr, "Continue?", !f.fromLink)
		if err != nil {
			return rdp.Credentials{}, err
		}
		if !ok {
			return rdp.Credentials{}, exitError{code: 1, msg: "cancelled"}
		}
	}
	creds, err := rdp.GenerateCredentials(ctx, rdpMetadataAPI{cloud.api}, rdp.CredentialRequest{
		Project:  inst.Project,
		Zone:     inst.Zone,
		Instance: inst.Name,
		Username: user,
		Email:    cloud.creds.Email,
		Admin:    f.admin,
		Timeout:  f.timeout,
		Progress: func(s string) { fmt.Fprintln(stderr, s+"...") },
	})
	if err != nil {
		return rdp.Credentials{}, err
	}
	save := f.savePassword
	if !save && rdpStdinIsTerminal() {
		// Ctrl-C here still returns the password: it is new and must be shown.
		save, _ = rdpAsk(ctx, stdin, stderr, "Save the password in the OS keyring?", false)
	}
	if save {
		if err := rdp.SavePassword(inst.Project, inst.Zone, inst.Name, creds.Username, creds.Password); err != nil {
			fmt.Fprintf(stderr, "iapterm: %v\n", err)
		} else {
			fmt.Fprintln(stderr, "Password saved in the OS keyring.")
		}
	}
	return creds, nil
}
