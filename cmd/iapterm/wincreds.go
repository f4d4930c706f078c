package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"iapterm/projects"
	"iapterm/rdp"
)

func init() { register(newWindowsCredentialsCmd) }

func newWindowsCredentialsCmd() *cobra.Command {
	var f rdpFlags
	var copyClip bool
	cmd := &cobra.Command{
		Use:     "windows-credentials INSTANCE|PROJECT/ZONE/INSTANCE",
		Aliases: []string{"reset-windows-password"},
		Short:   "Create a Windows account or reset its password through the guest agent",
		Long: `Create a local Windows account on the VM, or reset its password, the way
IAP Desktop and gcloud do: a fresh RSA key is published in the instance
metadata windows-keys, and the VM's guest agent answers on serial port 4 with
the new password encrypted for that key.

The username and password are printed once on stdout. Nothing is stored
unless you agree (--save-password, or the prompt): then the password goes to
the OS keyring, where iapterm rdp finds it.

Needs compute.instances.setMetadata and compute.instances.getSerialPortOutput
on the VM (and iam.serviceAccounts.actAs if it runs as a service account).`,
		Example: `  iapterm windows-credentials win-1 --project my-project --zone us-central1-a --user alice
  iapterm windows-credentials win-1 --project my-project --user alice --admin --save-password --yes`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			project, zone, name, err := splitInstance(args[0], f.project, f.zone)
			if err != nil {
				return err
			}
			cloud, err := rdpOpenCloud(ctx)
			if err != nil {
				return err
			}
			if f.user == "" {
				f.user = rdp.SuggestUsername(cloud.creds.Email)
				if f.user == "" {
					return errors.New("--user is required: the Windows account to create or reset")
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Windows username: %s (from your email; choose another with --user)\n", f.user)
			}
			if err := rdp.ValidateUsername(f.user); err != nil {
				return err
			}
			inst, err := cloud.api.Resolve(ctx, project, zone, name)
			if err != nil {
				return err
			}
			if inst.OS != projects.Windows {
				return fmt.Errorf("instance %s is not a Windows VM: Windows credentials cannot be generated for it", inst.Key())
			}
			if !inst.Running() {
				return fmt.Errorf("the guest agent only answers while the VM is RUNNING: %w", notRunning(inst))
			}
			creds, err := rdpGenerateCredentials(ctx, cmd, cloud, inst, f.user, f, bufio.NewReader(cmd.InOrStdin()))
			if err != nil {
				if ctx.Err() != nil {
					return exitError{code: 130, msg: "cancelled"}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Username: %s\nPassword: %s\n", creds.Username, creds.Password)
			if copyClip {
				rdp.CopyToClipboard(cmd.ErrOrStderr(), creds.Password)
				fmt.Fprintln(cmd.ErrOrStderr(), "Password sent to the terminal clipboard (OSC 52).")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project of the instance (default $IAPTERM_PROJECT)")
	fl.StringVar(&f.zone, "zone", "", "zone of the instance (default: found by name)")
	fl.StringVar(&f.user, "user", "", "Windows username to create or reset (default: from your email)")
	fl.BoolVar(&f.admin, "admin", false, "add the account to the Administrators group")
	fl.BoolVar(&f.savePassword, "save-password", false, "save the password in the OS keyring (service iapterm-rdp) without asking")
	fl.DurationVar(&f.timeout, "timeout", rdp.DefaultCredentialTimeout, "how long to wait for the guest agent")
	fl.BoolVar(&copyClip, "copy", false, "also copy the password to the clipboard with OSC 52 (through the terminal)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "do not ask before resetting the password")
	return cmd
}
