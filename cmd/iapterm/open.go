package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"iapterm/rdp"
)

func init() { register(newOpenCmd) }

func newOpenCmd() *cobra.Command {
	var f rdpFlags
	var registerHandler, pauseOnError bool
	cmd := &cobra.Command{
		Use:   "open 'iap-rdp:///PROJECT/ZONE/INSTANCE?PARAMS'",
		Short: "Connect from an iap-rdp:/// link (IAP Desktop's link format), or register iapterm as its handler",
		Long: `Connect to a Windows VM from an iap-rdp:/// link, as IAP Desktop does:

  iap-rdp:///PROJECT/ZONE/INSTANCE?Username=alice&DesktopSize=AutoAdjust

Parameters (names in any case; values as IAP Desktop's numbers or names):
Username, Domain, RdpPort, DesktopSize (0 ClientSize, 1 ScreenSize,
2 AutoAdjust), ColorDepth (0 HighColor, 1 TrueColor, 2 DeepColor), AudioMode
(0 PlayLocally, 1 PlayOnServer, 2 DoNotPlay), RedirectClipboard,
RdpRedirectPrinter, RdpRedirectSmartCard, RdpRedirectDrive (0 Disabled,
1 Enabled), CredentialGenerationBehavior (0 Allow, 1 AllowIfNoCredentialsFound,
2 Disallow, 3 Force). ConnectionBar, RdpHookWindowsKeys, RdpRedirectPort and
RdpRedirectDevice are accepted and have no effect. Links never carry
passwords: one with a password parameter is refused.

--register makes iapterm the handler of iap-rdp links (Linux: a desktop
entry and xdg-mime; macOS and Windows: prints the steps).`,
		Example: `  iapterm open 'iap-rdp:///my-project/us-central1-a/win-1?Username=alice'
  iapterm open --register`,
		Args: func(cmd *cobra.Command, args []string) error {
			if registerHandler {
				return cobra.NoArgs(cmd, args)
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if registerHandler {
				return rdpRegisterURLHandler(cmd)
			}
			err := runOpen(cmd, f, args[0])
			if err != nil && pauseOnError {
				return rdpPauseOnError(cmd, err)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&registerHandler, "register", false, "make iapterm the handler of iap-rdp links")
	fl.BoolVar(&pauseOnError, "pause-on-error", false, "after an error, wait for Enter (for the terminal window a link opens, which would otherwise close with the message)")
	fl.StringVar(&f.client, "client", "", "RDP client program or macOS .app (default: $IAPTERM_RDP_CLIENT, else discovered)")
	fl.IntVar(&f.localPort, "local-port", 0, "local port of the tunnel (default: a stable port for this VM)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fl.BoolVar(&f.savePassword, "save-password", false, "save the password in the OS keyring (service iapterm-rdp)")
	fl.BoolVar(&f.admin, "admin", false, "when credentials are generated: add the account to Administrators")
	fl.DurationVar(&f.timeout, "timeout", rdp.DefaultCredentialTimeout, "how long to wait for the guest agent when credentials are generated")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask before resetting a password")
	fl.StringArrayVar(&f.clientArgs, "client-arg", nil, "extra argument for FreeRDP or Remmina (repeatable; never a password)")
	return cmd
}

// runOpen connects from an iap-rdp link.
func runOpen(cmd *cobra.Command, f rdpFlags, link string) error {
	u, err := rdp.ParseURL(link)
	if err != nil {
		return err
	}
	if len(u.Ignored) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "Ignoring %s: no effect with an external RDP client.\n", strings.Join(u.Ignored, ", "))
	}
	f.project, f.zone = u.Project, u.Zone
	f.fromLink = true
	// The link's parameters go over the settings file's values.
	return runRDP(cmd, rdpRun{flags: f, instance: u.Instance, override: func(s *rdp.Settings) error {
		u.Apply(s)
		return nil
	}})
}

// rdpPauseOnError shows err and waits for Enter (or Ctrl-C), so that the
// terminal window a desktop opened for a link does not close before the
// message can be read. The returned error keeps err's exit status and is
// not printed again.
func rdpPauseOnError(cmd *cobra.Command, err error) error {
	code := 1
	var ec exitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	w := cmd.ErrOrStderr()
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(w, "iapterm:", msg)
	}
	fmt.Fprint(w, "Press Enter to close this window.")
	in := bufio.NewReader(cmd.InOrStdin())
	rdpInterruptible(cmd.Context(), func() (string, error) { return in.ReadString('\n') }, nil)
	fmt.Fprintln(w)
	return exitError{code: code}
}

func rdpRegisterURLHandler(cmd *cobra.Command) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding iapterm's own path: %w", err)
	}
	out := cmd.OutOrStdout()
	switch runtime.GOOS {
	case "darwin", "windows":
		fmt.Fprint(out, rdp.RegisterInstructions(runtime.GOOS, exe))
		return nil
	}
	run := func(name string, args ...string) error {
		p, err := exec.LookPath(name)
		if err != nil {
			return err
		}
		c := exec.CommandContext(cmd.Context(), p, args...)
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(b)))
		}
		return nil
	}
	path, err := rdp.RegisterLinux(os.Getenv("XDG_DATA_HOME"), exe, run)
	if err != nil {
		if path == "" {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "iapterm:", err)
		return exitError{code: 1}
	}
	fmt.Fprintf(out, "Registered %s as the handler of iap-rdp links (%s).\nTry: xdg-open %s\n", exe, path,
		strconv.Quote("iap-rdp:///PROJECT/ZONE/INSTANCE"))
	return nil
}
