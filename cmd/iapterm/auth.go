package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"iapterm/auth"
)

func init() { register(newAuthCmd) }

func newAuthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Sign in, show who you are, sign out",
		Long: `iapterm finds credentials in this order:
  1. IAPTERM_ACCESS_TOKEN (a bearer token, e.g. from gcloud auth print-access-token)
  2. iapterm's own sign-in (iapterm auth login), kept in the OS keyring
  3. application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
     application_default_credentials.json, or the metadata server on Google Cloud)`,
	}
	cmd.AddCommand(newAuthLoginCmd(), newAuthStatusCmd(), newAuthLogoutCmd())
	return cmd
}

func newAuthLoginCmd() *cobra.Command {
	var noBrowser bool
	var clientID, clientSecret, loginHint string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in with a browser and keep the sign-in for later commands",
		Long: `Opens the Google sign-in page in a browser (or prints its address with
--no-browser), waits for the answer on a loopback port, and stores the
refresh token in the OS keyring (or, without one, in a 0600 file in the user
config directory). The OAuth client defaults to iapterm's own Desktop client;
set IAPTERM_OAUTH_CLIENT_ID and IAPTERM_OAUTH_CLIENT_SECRET (or the flags) to
use your organisation's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, store, err := endpointAndStore()
			if err != nil {
				return err
			}
			id, secret := auth.ClientFromEnv(clientID, clientSecret)
			errw := cmd.ErrOrStderr()
			cfg := auth.LoginConfig{
				Endpoints: eps, ClientID: id, ClientSecret: secret, Store: store,
				LoginHint: loginHint, Timeout: timeout,
				ShowURL: func(u string) {
					if noBrowser {
						fmt.Fprintf(errw, "Open this address in a browser to sign in (%s):\n\n%s\n\nWaiting for the sign-in to finish...\n", eps.Describe(), u)
					} else {
						fmt.Fprintf(errw, "Opening a browser to sign in (%s). If none opens, visit:\n\n%s\n\nWaiting for the sign-in to finish...\n", eps.Describe(), u)
					}
				},
			}
			if !noBrowser {
				cfg.OpenBrowser = auth.OpenBrowser
			}
			creds, err := auth.Login(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signed in as %s (stored in %s).\n", creds.Email, creds.Location)
			if note := envTokenShadows(); note != "" {
				fmt.Fprintln(errw, note)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the sign-in address instead of opening a browser")
	cmd.Flags().StringVar(&clientID, "client-id", "", "OAuth client ID (default $"+auth.EnvClientID+", else iapterm's own)")
	cmd.Flags().StringVar(&clientSecret, "client-secret", "", "OAuth client secret (default $"+auth.EnvClientSecret+")")
	cmd.Flags().StringVar(&loginHint, "account", "", "pre-select this account on the sign-in page")
	cmd.Flags().DurationVar(&timeout, "timeout", auth.DefaultLoginTimeout, "how long to wait for the browser")
	return cmd
}

// envTokenShadows warns that IAPTERM_ACCESS_TOKEN takes precedence.
func envTokenShadows() string {
	if os.Getenv(auth.EnvAccessToken) != "" {
		return "Note: " + auth.EnvAccessToken + " is set and takes precedence over this sign-in until you unset it."
	}
	return ""
}

func newAuthStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the account, where its credentials come from, and the token's expiry",
		Long:  "Exits with status 1 when no credentials are found or they no longer work.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			creds, eps, err := credentials(cmd.Context())
			if err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			out := cmd.OutOrStdout()
			email := creds.Email
			if email == "" {
				email = "(unknown)"
			}
			fmt.Fprintf(out, "Endpoint: %s\nAccount:  %s\nSource:   %s\n", eps.Describe(), email, creds.Source)
			if creds.Location != "" {
				fmt.Fprintf(out, "Stored:   %s\n", creds.Location)
			}
			exp, err := creds.Expiry()
			if err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			if exp.IsZero() {
				fmt.Fprintln(out, "Token:    valid (expiry unknown)")
			} else {
				fmt.Fprintf(out, "Token:    valid until %s (in %s)\n", exp.Local().Format(time.DateTime), time.Until(exp).Round(time.Second))
			}
			return nil
		},
	}
}

func newAuthLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke and delete iapterm's stored sign-in for the current endpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, store, err := endpointAndStore()
			if err != nil {
				return err
			}
			email, err := auth.Logout(cmd.Context(), eps, store)
			if email == "" && err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "Not signed in to %s with iapterm; nothing to do.\n", eps.Describe())
				return nil
			}
			if err != nil && email == "" {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signed out %s.\n", email)
			return err
		},
	}
}
