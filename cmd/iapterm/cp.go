package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"iapterm/sshclient"
)

func init() { register(newCpCmd) }

type cpFlags struct {
	sshFlags
	recurse bool
}

func newCpCmd() *cobra.Command {
	var f cpFlags
	cmd := &cobra.Command{
		Use:   "cp SOURCE DESTINATION",
		Short: "Copy a file or directory to or from a VM over SFTP through IAP",
		Long: `Copy a file (or with --recurse a directory tree) between this machine and
a Linux VM over SFTP, through Identity-Aware Proxy, with a progress bar on
stderr. Exactly one side is INSTANCE:PATH (a relative PATH is in the login
user's home directory). When the destination is an existing directory, the
file or directory keeps its name inside it.

The key is published and the host key checked as for iapterm ssh.

Examples:
  iapterm cp ./backup.tar.gz web-1:/tmp/ --project my-proj
  iapterm cp web-1:logs/app.log . --project my-proj --zone us-central1-a
  iapterm cp -r web-1:/var/log/app ./logs --project my-proj`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return runCp(cmd, f, args) },
	}
	fl := cmd.Flags()
	sshTargetFlags(cmd, &f.project, &f.zone)
	fl.StringVar(&f.user, "user", "", "login name for metadata keys (default: ssh.user, else derived from your email)")
	fl.IntVar(&f.port, "port", 0, "SSH port on the VM (default: ssh.port, 22)")
	fl.StringVar(&f.keyType, "key-type", "", "key to use: ed25519, ecdsa-p256, ecdsa-p384, rsa-3072 (default: ssh.key_type)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar")
	fl.BoolVarP(&f.recurse, "recurse", "r", false, "copy a directory and everything in it")
	return cmd
}

// cpRemoteSpec splits INSTANCE:PATH; ok is false for a local path.
func cpRemoteSpec(s string) (instance, path string, ok bool) {
	i := strings.Index(s, ":")
	if i <= 0 {
		return "", "", false
	}
	inst := s[:i]
	if strings.ContainsAny(inst, `\`) || strings.HasPrefix(inst, ".") {
		return "", "", false
	}
	// A drive letter (C:\x) is local on Windows.
	if runtime.GOOS == "windows" && len(inst) == 1 {
		return "", "", false
	}
	// "./a:b" and "dir/a:b" are local; PROJECT/ZONE/NAME:PATH is remote,
	// unless it is a path here: "dir/sub/a:b" that exists, or whose
	// directory "dir/sub" does (a folder named like a project is common; one
	// with a zone's name inside it is not).
	if strings.Contains(inst, "/") && strings.Count(inst, "/") != 2 {
		return "", "", false
	}
	if strings.Contains(inst, "/") {
		if _, err := os.Lstat(s); err == nil {
			return "", "", false
		}
		if st, err := os.Stat(inst[:strings.LastIndex(inst, "/")]); err == nil && st.IsDir() {
			return "", "", false
		}
	}
	return inst, s[i+1:], true
}

func runCp(cmd *cobra.Command, f cpFlags, args []string) error {
	ctx := cmd.Context()
	srcInst, srcPath, srcRemote := cpRemoteSpec(args[0])
	dstInst, dstPath, dstRemote := cpRemoteSpec(args[1])
	switch {
	case srcRemote && dstRemote:
		return fmt.Errorf("both %s and %s are on VMs: copy through this machine in two steps", args[0], args[1])
	case !srcRemote && !dstRemote:
		return fmt.Errorf("neither %s nor %s names a VM: write one side as INSTANCE:PATH", args[0], args[1])
	}
	instArg := srcInst
	if dstRemote {
		instArg = dstInst
	} else if srcPath == "" {
		return fmt.Errorf("%s names no file: write INSTANCE:PATH (a relative PATH is in the home directory on the VM)", args[0])
	}
	project, zone, name, err := splitInstance(instArg, f.project, f.zone)
	if err != nil {
		return err
	}
	env, err := newSSHEnv(cmd, f.quiet)
	if err != nil {
		return err
	}
	inst, err := env.resolve(ctx, project, zone, name)
	if err != nil {
		return err
	}
	// Only --port among the flags settings reads that cp has; --agent,
	// which it does not have, stays the setting's.
	s, err := env.settings(inst, f.sshFlags, func(name string) bool { return name == "port" && cmd.Flags().Changed(name) })
	if err != nil {
		return err
	}
	key, err := env.store.Key(s.KeyType)
	if err != nil {
		return err
	}
	conn, err := env.connector(s, key)
	if err != nil {
		return err
	}
	client, err := conn.Connect(ctx, sshTargetOf(inst, s.Port))
	if err != nil {
		if ctx.Err() != nil {
			return exitError{code: 130}
		}
		return err
	}
	defer client.Close()
	sf, err := client.SFTP()
	if err != nil {
		return err
	}
	defer sf.Close()
	bar := newCpProgressBar(cmd.ErrOrStderr(), !f.quiet && sshIsTerminal(cmd.ErrOrStderr()))
	var written string
	var skipped []sshclient.Skipped
	switch {
	case dstRemote && dstPath == "":
		dstPath = "."
		fallthrough
	case dstRemote:
		bar.name = args[0]
		if st, serr := os.Stat(args[0]); f.recurse && serr == nil && st.IsDir() {
			written, skipped, err = sf.UploadDir(ctx, args[0], dstPath, bar.update)
		} else {
			written, err = sf.Upload(ctx, args[0], dstPath, bar.update)
		}
	default:
		bar.name = srcPath
		if st, serr := sf.Stat(srcPath); f.recurse && serr == nil && st.IsDir() {
			written, skipped, err = sf.DownloadDir(ctx, srcPath, args[1], bar.update)
		} else {
			written, err = sf.Download(ctx, srcPath, args[1], bar.update)
		}
	}
	bar.finish(err == nil)
	for _, sk := range skipped {
		why := sk.Reason
		if why == "" {
			why = cpKind(sk.Mode)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "iapterm: warning: %q was not copied: %s\n", sk.Path, why)
	}
	if err != nil {
		if ctx.Err() != nil {
			return exitError{code: 130, msg: "copy interrupted"}
		}
		if errors.Is(err, sshclient.ErrIsDirectory) {
			return fmt.Errorf("%w: add --recurse (-r) to copy it and everything in it", err)
		}
		return err
	}
	if !f.quiet {
		where := written
		if dstRemote {
			where = inst.Name + ":" + written
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s in %s\n", where, cpHumanBytes(bar.done), time.Since(bar.start).Round(10*time.Millisecond))
	}
	return nil
}

// cpKind says what an entry a directory copy left out is.
func cpKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link to a directory or to nothing (links to files are copied as files)"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a file or a directory"
}

// cpProgressBar draws one line on a terminal, at most ten times a second.
type cpProgressBar struct {
	mu    sync.Mutex
	w     io.Writer
	draw  bool
	name  string
	start time.Time
	last  time.Time
	done  int64
	total int64
}

func newCpProgressBar(w io.Writer, draw bool) *cpProgressBar {
	return &cpProgressBar{w: w, draw: draw, start: time.Now()}
}

func (p *cpProgressBar) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if !p.draw || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.render()
}

func (p *cpProgressBar) render() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	n := int(frac * width)
	rate := float64(p.done) / max(time.Since(p.start).Seconds(), 0.001)
	name := p.name
	if len(name) > 30 {
		name = "…" + name[len(name)-29:]
	}
	fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %3.0f%% %s/%s %s/s", name, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		frac*100, cpHumanBytes(p.done), cpHumanBytes(p.total), cpHumanBytes(int64(rate)))
}

func (p *cpProgressBar) finish(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.draw {
		return
	}
	if ok {
		p.render()
	}
	fmt.Fprintln(p.w)
}

func cpHumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
