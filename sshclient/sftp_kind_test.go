package sshclient

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func openTestSFTP(t *testing.T) (*SFTP, string) {
	t.Helper()
	e := newEnv(t)
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := c.SFTP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, e.srv.sftpRoot
}

// writeTree creates files ("name": content) and directories ("name/": "")
// under root.
func writeTree(t *testing.T, root string, entries map[string]string) {
	t.Helper()
	for name, content := range entries {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listTree lists everything under root: "name/" for directories and
// "name=content" for files.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		b, _ := os.ReadFile(p)
		out = append(out, rel+"="+string(b))
		return nil
	})
	sort.Strings(out)
	return out
}

// The source tree of the tests below: "tree" with a file and a
// subdirectory.
var kindSource = map[string]string{"tree/a.txt": "a", "tree/sub/b.txt": "b"}

// TestDirectoryCopyDestinationOfOtherKind: like cp -r and scp -r, a copy
// never puts a file inside a directory that stands where the file should
// be (tree/a.txt/a.txt), nor writes into a file where a directory should
// be; it stops with an error naming both, before writing anything, and
// leaves the destination as it was. Both directions.
func TestDirectoryCopyDestinationOfOtherKind(t *testing.T) {
	f, vmRoot := openTestSFTP(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dst  map[string]string // what the destination holds before the copy
		to   string            // destination argument, below the destination root
		path string            // the path the error names, below the destination root
		dir  bool              // the destination is a directory (the source a file)
		msg  string
	}{
		{"the destination is a file", map[string]string{"dest": "keep"}, "dest", "dest", false,
			"cannot replace the file "},
		{"the destination holds a file of the tree's name", map[string]string{"tree": "keep"}, "", "tree", false,
			"cannot replace the file "},
		{"a directory where the tree has a file", map[string]string{"tree/a.txt/x": "keep"}, "", "tree/a.txt", true,
			"cannot replace the directory "},
		{"a file where the tree has a directory", map[string]string{"tree/sub": "keep"}, "", "tree/sub", false,
			"cannot replace the file "},
	} {
		t.Run("upload/"+tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), filepath.Join(vmRoot, strings.ReplaceAll(t.Name(), "/", "_"))
			writeTree(t, src, kindSource)
			writeTree(t, dst, tc.dst)
			before := listTree(t, dst)
			_, _, err := f.UploadDir(ctx, filepath.Join(src, "tree"), filepath.Join(dst, tc.to), nil)
			checkKindError(t, err, filepath.Join(dst, tc.path), true, tc.dir, tc.msg)
			if after := listTree(t, dst); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Fatalf("the VM's files changed from %q to %q", before, after)
			}
		})
		t.Run("download/"+tc.name, func(t *testing.T) {
			src, dst := filepath.Join(vmRoot, strings.ReplaceAll(t.Name(), "/", "_")), t.TempDir()
			writeTree(t, src, kindSource)
			writeTree(t, dst, tc.dst)
			before := listTree(t, dst)
			_, _, err := f.DownloadDir(ctx, filepath.Join(src, "tree"), filepath.Join(dst, tc.to), nil)
			checkKindError(t, err, filepath.Join(dst, tc.path), false, tc.dir, tc.msg)
			if after := listTree(t, dst); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Fatalf("the local files changed from %q to %q", before, after)
			}
		})
	}

	// Single files: a directory of the file's name inside the destination
	// directory is not written into either.
	t.Run("upload a file", func(t *testing.T) {
		src, dst := t.TempDir(), filepath.Join(vmRoot, "single-up")
		writeTree(t, src, map[string]string{"a.txt": "a"})
		writeTree(t, dst, map[string]string{"a.txt/": ""})
		_, err := f.Upload(ctx, filepath.Join(src, "a.txt"), dst, nil)
		checkKindError(t, err, filepath.Join(dst, "a.txt"), true, true, "cannot replace the directory ")
		if got := listTree(t, dst); strings.Join(got, " ") != "a.txt/" {
			t.Fatalf("on the VM: %q", got)
		}
	})
	t.Run("download a file", func(t *testing.T) {
		src, dst := filepath.Join(vmRoot, "single-down"), t.TempDir()
		writeTree(t, src, map[string]string{"a.txt": "a"})
		writeTree(t, dst, map[string]string{"a.txt/": ""})
		_, err := f.Download(ctx, filepath.Join(src, "a.txt"), dst, nil)
		checkKindError(t, err, filepath.Join(dst, "a.txt"), false, true, "cannot replace the directory ")
		if got := listTree(t, dst); strings.Join(got, " ") != "a.txt/" {
			t.Fatalf("here: %q", got)
		}
	})

	// A destination of the same kind is merged into, as before.
	t.Run("merge", func(t *testing.T) {
		src, dst := t.TempDir(), filepath.Join(vmRoot, "merge")
		writeTree(t, src, kindSource)
		writeTree(t, dst, map[string]string{"tree/a.txt": "old", "tree/sub/other": "o"})
		got, _, err := f.UploadDir(ctx, filepath.Join(src, "tree"), dst, nil)
		if err != nil || got != filepath.Join(dst, "tree") {
			t.Fatalf("UploadDir: %s, %v", got, err)
		}
		if l := strings.Join(listTree(t, dst), " "); l != "tree/ tree/a.txt=a tree/sub/ tree/sub/b.txt=b tree/sub/other=o" {
			t.Fatalf("on the VM: %s", l)
		}
		back := t.TempDir()
		writeTree(t, back, map[string]string{"tree/a.txt": "old", "tree/mine": "m"})
		if got, _, err = f.DownloadDir(ctx, filepath.Join(dst, "tree"), back, nil); err != nil || got != filepath.Join(back, "tree") {
			t.Fatalf("DownloadDir: %s, %v", got, err)
		}
		if l := strings.Join(listTree(t, back), " "); l != "tree/ tree/a.txt=a tree/mine=m tree/sub/ tree/sub/b.txt=b tree/sub/other=o" {
			t.Fatalf("here: %s", l)
		}
	})
}

func checkKindError(t *testing.T, err error, path string, remote, dir bool, msg string) {
	t.Helper()
	var ke *KindError
	if !errors.As(err, &ke) {
		t.Fatalf("err = %v, want a KindError", err)
	}
	if ke.Path != path || ke.Remote != remote || ke.IsDir != dir {
		t.Fatalf("KindError %+v, want path %s remote %v directory %v", *ke, path, remote, dir)
	}
	if s := err.Error(); !strings.HasPrefix(s, msg+path) || strings.Contains(s, ".part") {
		t.Fatalf("error %q, want it to start %q", s, msg+path)
	}
}

// TestDirectoryCopyMissingParent: a destination below a directory that is
// not there names that directory, in both directions.
func TestDirectoryCopyMissingParent(t *testing.T) {
	f, vmRoot := openTestSFTP(t)
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, kindSource)
	writeTree(t, vmRoot, map[string]string{"tree/a.txt": "a"})
	up := filepath.Join(vmRoot, "no", "such")
	if _, _, err := f.UploadDir(ctx, filepath.Join(src, "tree"), up, nil); err == nil ||
		err.Error() != "creating directory "+up+" on the VM: there is no directory "+filepath.Dir(up)+" there" {
		t.Fatalf("upload: %v", err)
	}
	down := filepath.Join(t.TempDir(), "no", "such")
	if _, _, err := f.DownloadDir(ctx, filepath.Join(vmRoot, "tree"), down, nil); err == nil ||
		err.Error() != "creating directory "+down+": there is no directory "+filepath.Dir(down)+" here" {
		t.Fatalf("download: %v", err)
	}
}

// TestDownloadDirSkipsControlCharacterNames: a name on the VM holding
// control characters (an escape sequence) is left out and reported, not
// written here, where it would reach the terminal in every later listing.
func TestDownloadDirSkipsControlCharacterNames(t *testing.T) {
	f, vmRoot := openTestSFTP(t)
	bad := "x\x1b]0;owned\x07.txt"
	writeTree(t, vmRoot, map[string]string{"tree/ok.txt": "ok", "tree/" + bad: "bad", "tree/caf\u00e9": "fine"})
	dst := t.TempDir()
	got, skipped, err := f.DownloadDir(context.Background(), filepath.Join(vmRoot, "tree"), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := strings.Join(listTree(t, got), " "); l != "caf\u00e9=fine ok.txt=ok" {
		t.Fatalf("downloaded %q", l)
	}
	if len(skipped) != 1 || filepath.Base(skipped[0].Path) != bad || !strings.Contains(skipped[0].Reason, "control characters") {
		t.Fatalf("skipped %+v", skipped)
	}
}
