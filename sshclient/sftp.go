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
	"unicode"
	"unicode/utf8"

	"github.com/pkg/sftp"
)

// SFTP is a file transfer client on a VM's connection.
type SFTP struct {
	c       *sftp.Client
	release func()
	once    sync.Once
}

// ErrIsDirectory is the error of Upload and Download for a directory;
// UploadDir and DownloadDir copy those.
var ErrIsDirectory = errors.New("is a directory")

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

// KindError is the error of a copy whose destination exists as the other
// kind: a directory where a file is to go, or a file (anything that is not
// a directory) where a directory is. Nothing was replaced.
type KindError struct {
	// Path is the destination; Remote says it is on the VM.
	Path   string
	Remote bool
	// IsDir says the destination is a directory (and the source a file).
	IsDir  bool
	Source string
}

func (e *KindError) Error() string {
	where, from := "", ""
	if e.Remote {
		where = " on the VM"
	} else {
		from = " from the VM"
	}
	have, with := "file", "directory"
	if e.IsDir {
		have, with = "directory", "file"
	}
	return fmt.Sprintf("cannot replace the %s %s%s with the %s %s%s: move it away or choose another destination", have, e.Path, where, with, e.Source, from)
}

// Upload copies a local file to remote (a file path; when remote is an
// existing directory the local base name is appended). It returns the
// remote path written. A directory in the file's place is a *KindError.
func (f *SFTP) Upload(ctx context.Context, local, remote string, progress TransferProgress) (string, error) {
	return f.upload(ctx, local, remote, true, progress)
}

// upload is Upload; with into false, remote is the file's path even when
// it is a directory (which is then a *KindError).
func (f *SFTP) upload(ctx context.Context, local, remote string, into bool, progress TransferProgress) (string, error) {
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
		return "", fmt.Errorf("%s: %w", local, ErrIsDirectory)
	}
	if into {
		rs, err := f.c.Stat(remote)
		switch {
		case err == nil && rs.IsDir():
			remote = f.c.Join(remote, filepath.Base(local))
		case strings.HasSuffix(remote, "/") && isFile(f.c.Stat(strings.TrimRight(remote, "/"))):
			return "", fmt.Errorf("%s on the VM is not a directory", remote)
		case strings.HasSuffix(remote, "/"):
			return "", fmt.Errorf("there is no directory %s on the VM", remote)
		}
	}
	// Write beside the destination and rename, so that an interrupted
	// upload leaves the file that was there (or none), not a truncated
	// one. Where no file can be created beside it (a writable file in a
	// directory that is not), or the destination is a link to follow,
	// write in place.
	tmp := ""
	fi, err := f.c.Lstat(remote)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if t, err := f.c.Stat(remote); err == nil && t.IsDir() {
			fi = t
		}
	}
	switch {
	case err == nil && fi.IsDir():
		return "", &KindError{Path: remote, Remote: true, IsDir: true, Source: local}
	case err != nil || fi.Mode().IsRegular():
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
	// The file gets its final mode before any data, so a secret is never
	// readable by others on the VM while it is written (the server creates
	// files with its umask's default).
	if tmp != "" {
		_ = dst.Chmod(st.Mode().Perm())
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
	if tmp == "" {
		// Written in place: an existing file keeps its mode until now.
		_ = f.c.Chmod(remote, st.Mode().Perm())
		return remote, nil
	}
	if err := f.rename(tmp, remote); err != nil {
		if errors.Is(err, errReplacedNotRenamed) {
			// The old file is gone and the new one is complete under
			// its temporary name: keep it and say where it is.
			return "", fmt.Errorf("uploading to %s: the upload is complete in %s but could not be renamed: %w", remote, tmp, err)
		}
		return fail(err)
	}
	return remote, nil
}

// errReplacedNotRenamed: rename removed the destination but could not
// move the new file into its place.
var errReplacedNotRenamed = errors.New("the previous file was removed")

// rename replaces to with from: atomically where the server has OpenSSH's
// posix-rename extension. Elsewhere SFTP's rename refuses an existing
// target, so an existing regular file is removed first (not atomic).
func (f *SFTP) rename(from, to string) error {
	if _, ok := f.c.HasExtension("posix-rename@openssh.com"); ok {
		return f.c.PosixRename(from, to)
	}
	err := f.c.Rename(from, to)
	if err == nil {
		return nil
	}
	if fi, serr := f.c.Lstat(to); serr != nil || !fi.Mode().IsRegular() {
		return err // not because the target exists
	}
	if err := f.c.Remove(to); err != nil {
		return err
	}
	if err := f.c.Rename(from, to); err != nil {
		return fmt.Errorf("%w: %w", errReplacedNotRenamed, err)
	}
	return nil
}

func isFile(fi os.FileInfo, err error) bool { return err == nil && !fi.IsDir() }

func endsWithSeparator(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, string(filepath.Separator))
}

// Download copies a remote file to local (a file path; when local is an
// existing directory the remote base name is appended). The file appears
// complete or not at all. It returns the local path written. A directory
// in the file's place is a *KindError.
func (f *SFTP) Download(ctx context.Context, remote, local string, progress TransferProgress) (string, error) {
	return f.download(ctx, remote, local, true, progress)
}

// download is Download; with into false, local is the file's path even
// when it is a directory (which is then a *KindError).
func (f *SFTP) download(ctx context.Context, remote, local string, into bool, progress TransferProgress) (string, error) {
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
		return "", fmt.Errorf("%s on the VM: %w", remote, ErrIsDirectory)
	}
	if into {
		ls, err := os.Stat(local)
		switch {
		case err == nil && ls.IsDir():
			local = filepath.Join(local, filepath.Base(remote))
		case endsWithSeparator(local) && isFile(os.Stat(strings.TrimRight(local, "/"+string(filepath.Separator)))):
			return "", fmt.Errorf("%s is not a directory", local)
		case endsWithSeparator(local):
			return "", fmt.Errorf("there is no directory %s here", local)
		}
	}
	if ls, err := os.Stat(local); err == nil && ls.IsDir() {
		return "", &KindError{Path: local, IsDir: true, Source: remote}
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

// Skipped is an entry a directory copy left out: not a regular file or a
// directory (a symbolic link to a directory, a socket, a device).
type Skipped struct {
	Path string
	Mode fs.FileMode
	// Reason, when set, says why it was skipped; otherwise Mode does.
	Reason string
}

// localName says whether a name the VM listed in a directory can be used
// as one path element here: not empty, ".", "..", nor holding a separator,
// which a hostile server could use to write outside the destination.
func localName(name string) bool {
	return name != "" && name != "." && !strings.ContainsRune(name, '/') && !strings.ContainsRune(name, filepath.Separator) && filepath.IsLocal(name)
}

// UploadDir copies the local directory tree local to remote: into
// remote/BASE when remote is an existing directory, else to remote itself.
// Directories that exist already are merged into, and each file is
// replaced as Upload does. Symbolic links to files are copied as files.
// A destination of the other kind (a file on the VM where the tree has a
// directory, or a directory where it has a file) is a *KindError, found
// before anything is written. It returns the remote root and what it left
// out.
func (f *SFTP) UploadDir(ctx context.Context, local, remote string, progress TransferProgress) (string, []Skipped, error) {
	st, err := os.Stat(local)
	if err != nil {
		return "", nil, err
	}
	if !st.IsDir() {
		return "", nil, fmt.Errorf("%s is not a directory", local)
	}
	if rs, err := f.c.Stat(remote); err == nil && rs.IsDir() {
		remote = f.c.Join(remote, filepath.Base(filepath.Clean(local)))
	}
	remote = path.Clean(remote)
	type file struct {
		local, remote string
		size          int64
	}
	var files, dirs []file
	var skipped []Skipped
	var total int64
	err = filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		r := remote
		if rel != "." {
			r = f.c.Join(remote, filepath.ToSlash(rel))
		}
		if d.IsDir() {
			dirs = append(dirs, file{local: p, remote: r})
			return nil
		}
		fi, err := os.Stat(p) // follows a link
		if err != nil || !fi.Mode().IsRegular() {
			skipped = append(skipped, Skipped{Path: p, Mode: d.Type()})
			return nil
		}
		files = append(files, file{local: p, remote: r, size: fi.Size()})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return "", nil, err
	}

	// What is on the VM already, listed once per existing directory (the
	// walk has parents before children): a destination of the other kind
	// stops the copy before it writes anything.
	create := map[string]bool{} // directories to create: nothing below them exists
	listed := map[string]map[string]os.FileInfo{}
	lookup := func(p string) (os.FileInfo, error) {
		dir := path.Dir(p)
		if create[dir] {
			return nil, fs.ErrNotExist
		}
		entries, ok := listed[dir]
		if !ok || entries == nil { // the root, or a directory that cannot be listed
			return f.c.Stat(p)
		}
		fi, ok := entries[path.Base(p)]
		if !ok {
			return nil, fs.ErrNotExist
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if t, err := f.c.Stat(p); err == nil {
				return t, nil
			}
		}
		return fi, nil
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return "", skipped, err
		}
		fi, err := lookup(d.remote)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			create[d.remote] = true
		case err != nil:
			return "", skipped, fmt.Errorf("reading %s on the VM: %w", d.remote, err)
		case !fi.IsDir():
			return "", skipped, &KindError{Path: d.remote, Remote: true, Source: d.local}
		default:
			entries, err := f.c.ReadDir(d.remote)
			var m map[string]os.FileInfo
			if err == nil { // else (a directory one may write but not read) each entry is looked up
				m = make(map[string]os.FileInfo, len(entries))
				for _, e := range entries {
					m[e.Name()] = e
				}
			}
			listed[d.remote] = m
		}
	}
	for _, fl := range files {
		if fi, err := lookup(fl.remote); err == nil && fi.IsDir() {
			return "", skipped, &KindError{Path: fl.remote, Remote: true, IsDir: true, Source: fl.local}
		}
	}

	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return "", skipped, err
		}
		if !create[d.remote] {
			continue
		}
		if err := f.c.Mkdir(d.remote); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", skipped, fmt.Errorf("creating directory %s on the VM: there is no directory %s there", d.remote, path.Dir(d.remote))
			}
			return "", skipped, fmt.Errorf("creating directory %s on the VM: %w", d.remote, err)
		}
		if ds, err := os.Stat(d.local); err == nil {
			_ = f.c.Chmod(d.remote, ds.Mode().Perm())
		}
	}
	var done int64
	for _, fl := range files {
		base := done
		if _, err := f.upload(ctx, fl.local, fl.remote, false, func(n, _ int64) {
			if progress != nil {
				progress(base+n, total)
			}
		}); err != nil {
			return "", skipped, err
		}
		done += fl.size
	}
	if progress != nil {
		progress(done, total)
	}
	return remote, skipped, nil
}

// DownloadDir copies the remote directory tree remote to local: into
// local/BASE when local is an existing directory, else to local itself.
// Directories that exist already are merged into, and each file appears
// complete or not at all, as with Download. Symbolic links to files are
// copied as files. A destination of the other kind (a file here where the
// tree has a directory, or a directory where it has a file) is a
// *KindError, found before anything is written. It returns the local root
// and what it left out.
func (f *SFTP) DownloadDir(ctx context.Context, remote, local string, progress TransferProgress) (string, []Skipped, error) {
	st, err := f.c.Stat(remote)
	if err != nil {
		return "", nil, fmt.Errorf("opening %s on the VM: %w", remote, err)
	}
	if !st.IsDir() {
		return "", nil, fmt.Errorf("%s on the VM is not a directory", remote)
	}
	if ls, err := os.Stat(local); err == nil && ls.IsDir() {
		local = filepath.Join(local, path.Base(path.Clean(remote)))
	}
	type file struct {
		remote, local string
		size          int64
		mode          fs.FileMode
	}
	var files, dirs []file
	var skipped []Skipped
	var total int64
	var walk func(r, l string, mode fs.FileMode) error
	walk = func(r, l string, mode fs.FileMode) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch ls, err := os.Stat(l); {
		case err == nil && !ls.IsDir():
			return &KindError{Path: l, Source: r}
		case err != nil:
			dirs = append(dirs, file{remote: r, local: l, mode: mode})
		}
		entries, err := f.c.ReadDir(r)
		if err != nil {
			return fmt.Errorf("listing %s on the VM: %w", r, err)
		}
		for _, e := range entries {
			if !localName(e.Name()) {
				skipped = append(skipped, Skipped{Path: r + "/" + e.Name(), Mode: e.Mode().Type(), Reason: "its name cannot be a file name here"})
				continue
			}
			// A name with control characters would put terminal escape
			// sequences in every later message and listing that shows it.
			if strings.ContainsFunc(e.Name(), unicode.IsControl) || !utf8.ValidString(e.Name()) {
				skipped = append(skipped, Skipped{Path: r + "/" + e.Name(), Mode: e.Mode().Type(), Reason: "its name holds control characters or is not UTF-8"})
				continue
			}
			rp, lp := path.Join(r, e.Name()), filepath.Join(l, e.Name())
			fi := e
			if e.Mode()&fs.ModeSymlink != 0 {
				if fi, err = f.c.Stat(rp); err != nil {
					skipped = append(skipped, Skipped{Path: rp, Mode: e.Mode().Type()})
					continue
				}
				if fi.IsDir() {
					// Not followed: it could lead back up the tree.
					skipped = append(skipped, Skipped{Path: rp, Mode: e.Mode().Type()})
					continue
				}
			}
			switch {
			case fi.IsDir():
				if err := walk(rp, lp, fi.Mode()); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				if ls, err := os.Stat(lp); err == nil && ls.IsDir() {
					return &KindError{Path: lp, IsDir: true, Source: rp}
				}
				files = append(files, file{remote: rp, local: lp, size: fi.Size()})
				total += fi.Size()
			default:
				skipped = append(skipped, Skipped{Path: rp, Mode: fi.Mode().Type()})
			}
		}
		return nil
	}
	if err := walk(remote, local, st.Mode()); err != nil {
		return "", skipped, err
	}
	for _, d := range dirs {
		if err := os.Mkdir(d.local, d.mode.Perm()|0o700); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", skipped, fmt.Errorf("creating directory %s: there is no directory %s here", d.local, filepath.Dir(d.local))
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", skipped, fmt.Errorf("creating directory %s: %w", d.local, err)
		}
	}
	var done int64
	for _, fl := range files {
		base := done
		if _, err := f.download(ctx, fl.remote, fl.local, false, func(n, _ int64) {
			if progress != nil {
				progress(base+n, total)
			}
		}); err != nil {
			return "", skipped, err
		}
		done += fl.size
	}
	if progress != nil {
		progress(done, total)
	}
	return local, skipped, nil
}
