package api

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadDir reads the manifest files under root: *.yaml, *.yml and *.json, skipping
// dot-files and dot-directories (.git, CI configs). Paths in the result are relative
// to root with forward slashes, in lexical order; when root is a single file, its Path
// is the file's base name. Files over MaxFileSize and symlinks that resolve outside
// root are refused with an error; the rest are still read, so that one bad file does
// not hide the problems of the others.
func LoadDir(root string) ([]File, []FieldError) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, []FieldError{{Pos: Position{File: root}, Message: fmt.Sprintf("cannot read: %v", err)}}
	}
	if !info.IsDir() {
		f, ferr := readManifest(root, filepath.Base(root))
		if ferr != nil {
			return nil, []FieldError{*ferr}
		}
		return []File{f}, nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, []FieldError{{Pos: Position{File: root}, Message: fmt.Sprintf("cannot resolve: %v", err)}}
	}
	var files []File
	var errs []FieldError
	walkErr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		rel := relPath(root, path)
		if err != nil {
			errs = append(errs, FieldError{Pos: Position{File: rel}, Message: fmt.Sprintf("cannot read: %v", err)})
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isManifestName(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				errs = append(errs, FieldError{Pos: Position{File: rel}, Message: fmt.Sprintf("cannot resolve symlink: %v", err)})
				return nil
			}
			if !within(realRoot, target) {
				errs = append(errs, FieldError{Pos: Position{File: rel}, Message: "symlink points outside the manifests root"})
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		f, ferr := readManifest(path, rel)
		if ferr != nil {
			errs = append(errs, *ferr)
			return nil
		}
		files = append(files, f)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, FieldError{Pos: Position{File: root}, Message: fmt.Sprintf("walk: %v", walkErr)})
	}
	return files, errs
}

// readManifest reads one regular file (following a symlink already checked), refusing
// it without reading it all when it is over the size limit.
func readManifest(path, rel string) (File, *FieldError) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, &FieldError{Pos: Position{File: rel}, Message: fmt.Sprintf("cannot read: %v", err)}
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return File{}, &FieldError{Pos: Position{File: rel}, Message: "not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return File{}, &FieldError{Pos: Position{File: rel}, Message: fmt.Sprintf("cannot read: %v", err)}
	}
	if len(data) > MaxFileSize {
		return File{}, &FieldError{Pos: Position{File: rel}, Message: fmt.Sprintf("file is larger than the %d bytes limit", MaxFileSize)}
	}
	return File{Path: rel, Data: data}, nil
}

func isManifestName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func relPath(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// within reports whether path is root or below it (both already resolved).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
