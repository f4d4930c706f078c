package sshclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pkg/sftp"
)

// SFTP is a file transfer client on a VM's connection.
type SFTP struct {
	c       *sftp.Client
	release func()
	once    sync.Once
}

// TransferProgress is called as bytes move: done so far of total (-1 when
// unknown).
type TransferProgress func(done, total int64)

// SFTP opens an SFTP client on c.
func (c *Client) SFTP() (*SFTP, error) { return newSFTP(c, nil) }

func newSFTP(c *Client, release func()) (*SFTP, error) {
	sc, err := sftp.NewClient(c.ssh,
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
		sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		return nil, fmt.Errorf("starting SFTP on %s (is the sftp subsystem enabled in sshd?): %w", c.Target.Instance, err)
	}
	return &SFTP{c: sc, release: release}, nil
}

// Client exposes the pkg/sftp client for anything not wrapped here.
func (f *SFTP) Client() *sftp.Client { return f.c }

// Close ends the SFTP session.
func (f *SFTP) Close() error {
	err := f.c.Close()
	f.once.Do(func() {
		if f.release != nil {
			f.release()
		}
	})
	return err
}

// Getwd is the remote working directory (the user's home).
func (f *SFTP) Getwd() (string, error) { return f.c.Getwd() }

// List returns the entries of a remote directory.
func (f *SFTP) List(dir string) ([]os.FileInfo, error) {
	e, err := f.c.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return e, nil
}

// Stat describes a remote path.
func (f *SFTP) Stat(p string) (os.FileInfo, error) { return f.c.Stat(p) }

// Mkdir creates a remote directory.
func (f *SFTP) Mkdir(p string) error {
	if err := f.c.Mkdir(p); err != nil {
		return fmt.Errorf("creating directory %s: %w", p, err)
	}
	return nil
}

// Rename moves a remote file or directory.
func (f *SFTP) Rename(from, to string) error {
	if err := f.c.Rename(from, to); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", from, to, err)
	}
	return nil
}

// Remove deletes a remote file or empty directory.
func (f *SFTP) Remove(p string) error {
	if err := f.c.Remove(p); err != nil {
		return fmt.Errorf("deleting %s: %w", p, err)
	}
	return nil
}

type progressWriter struct {
	ctx      context.Context
	w        io.Writer
	done     int64
	total    int64
	progress TransferProgress
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.progress != nil {
		p.progress(p.done, p.total)
	}
	return n, err
}

type progressReader struct {
	ctx      context.Context
	r        io.Reader
	done     int64
	total    int64
	progress TransferProgress
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.done, p.total)
	}
	return n, err
}

// Upload copies a local file to remote (a file path; when remote is an
// existing directory the local base name is appended). It returns the
// remote path written.
func (f *SFTP) Upload(ctx context.Context, local, remote string, progress TransferProgress) (string, error) {
	src, err := os.Open(local)
	if err != nil {
		return "", err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory; copy files one at a time", local)
	}
	rs, err := f.c.Stat(remote)
	switch {
	case err == nil && rs.IsDir():
		remote = f.c.Join(remote, filepath.Base(local))
	case strings.HasSuffix(remote, "/") && isFile(f.c.Stat(strings.TrimRight(remote, "/"))):
		return "", fmt.Errorf("%s on the VM is not a directory", remote)
	case strings.HasSuffix(remote, "/"):
		return "", fmt.Errorf("there is no directory %s on the VM", remote)
	}
	// Write beside the destination and rename, so that an interrupted
	// upload leaves the file that was there (or none), not a truncated
	// one. Where no file can be created beside it (a writable file in a
	// directory that is not), or the destination is a link to follow,
	// write in place.
	tmp := ""
	if fi, err := f.c.Lstat(remote); err != nil || fi.Mode().IsRegular() {
		tmp = f.c.Join(path.Dir(remote), "."+path.Base(remote)+".part"+strconv.FormatInt(rand.Int64N(1e9), 10))
	}
	var dst *sftp.File
	if tmp != "" {
		if dst, err = f.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL); err != nil {
			tmp = ""
		}
	}
	if tmp == "" {
		if dst, err = f.c.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC); err != nil {
			return "", fmt.Errorf("opening %s on the VM: %w", remote, err)
		}
	}
	fail := func(err error) (string, error) {
		if tmp != "" {
			_ = f.c.Remove(tmp)
		}
		return "", fmt.Errorf("uploading to %s: %w", remote, err)
	}
	r := &progressReader{ctx: ctx, r: src, total: st.Size(), progress: progress}
	if _, err := dst.ReadFromWithConcurrency(r, 0); err != nil {
		dst.Close()
		return fail(err)
	}
	if err := dst.Close(); err != nil {
		return fail(err)
	}
	written := remote
	if tmp != "" {
		written = tmp
	}
	_ = f.c.Chmod(written, st.Mode().Perm())
	if tmp != "" {
		if err := f.rename(tmp, remote); err != nil {
			return fail(err)
		}
	}
	return remote, nil
}

// rename replaces to with from: atomically where the server has OpenSSH's
// posix-rename extension, else by removing to first.
func (f *SFTP) rename(from, to string) error {
	if _, ok := f.c.HasExtension("posix-rename@openssh.com"); ok {
		return f.c.PosixRename(from, to)
	}
	if err := f.c.Rename(from, to); err == nil {
		return nil
	}
	if err := f.c.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return f.c.Rename(from, to)
}

func isFile(fi os.FileInfo, err error) bool { return err == nil && !fi.IsDir() }

func endsWithSeparator(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, string(filepath.Separator))
}

// Download copies a remote file to local (a file path; when local is an
// existing directory the remote base name is appended). The file appears
// complete or not at all. It returns the local path written.
func (f *SFTP) Download(ctx context.Context, remote, local string, progress TransferProgress) (string, error) {
	src, err := f.c.Open(remote)
	if err != nil {
		return "", fmt.Errorf("opening %s on the VM: %w", remote, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory on the VM; copy files one at a time", remote)
	}
	ls, err := os.Stat(local)
	switch {
	case err == nil && ls.IsDir():
		local = filepath.Join(local, filepath.Base(remote))
	case endsWithSeparator(local) && isFile(os.Stat(strings.TrimRight(local, "/"+string(filepath.Separator)))):
		return "", fmt.Errorf("%s is not a directory", local)
	case endsWithSeparator(local):
		return "", fmt.Errorf("there is no directory %s here", local)
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".part*")
	if err != nil {
		// The error names the temporary file, which the user never asked for.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot write %s: %w", local, err)
	}
	defer os.Remove(tmp.Name())
	w := &progressWriter{ctx: ctx, w: tmp, total: st.Size(), progress: progress}
	if _, err := src.WriteTo(w); err != nil {
		tmp.Close()
		return "", fmt.Errorf("downloading %s: %w", remote, err)
	}
	if err := tmp.Chmod(st.Mode().Perm() &^ 0o022); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return "", fmt.Errorf("cannot write %s: %w", local, err)
	}
	return local, nil
}
