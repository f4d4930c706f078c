// Package sshclient is iapterm's SSH client over any net.Conn (normally an
// IAP tunnel): key generation and storage, publishing a key through OS Login
// or the ssh-keys metadata the guest agent reads, host-key verification,
// authentication (public key, keyboard-interactive, password), interactive
// sessions with a PTY, a connection manager that multiplexes sessions to one
// VM over a single SSH connection, and SFTP. It draws nothing: prompts and
// progress go through small callback interfaces the CLI and the TUI implement.
package sshclient
