package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/api"
)

// newValidateCmd builds `keelson validate PATH...`: it decodes, defaults and validates
// manifests exactly as the server does for a commit, without a cluster, so a CI job
// or a pre-commit hook can refuse a bad change before it is pushed.
func newValidateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check manifest files or directories as the server would",
		Long: "Validate reads *.yaml, *.yml and *.json files (directories are walked, dot-directories\n" +
			"skipped) and prints one line per problem: path:line:col: Kind/name: field: message.\n" +
			"Exit status: 0 valid, 1 invalid, 2 usage error.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(fmt.Errorf("validate needs at least one PATH"))
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error once
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" && output != "text" {
				return usageError(fmt.Errorf("unknown output format %q: want text or json", output))
			}
			for _, p := range args {
				if _, err := os.Stat(p); err != nil {
					return usageError(fmt.Errorf("validate: %w", err))
				}
			}
			res := validatePaths(args)
			if err := res.write(cmd.OutOrStdout(), output); err != nil {
				return fmt.Errorf("validate: write output: %w", err)
			}
			if len(res.Errors) > 0 {
				return &exitCodeError{Code: exitInvalid, Err: fmt.Errorf("%d problem(s) in the manifests", len(res.Errors))}
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// validateResult is also the JSON output of `keelson validate -o json`.
type validateResult struct {
	Valid   bool             `json:"valid"`
	Files   int              `json:"files"`
	Objects int              `json:"objects"`
	Errors  []api.FieldError `json:"errors"`
}

// validatePaths loads every path and decodes all files together, so that objects
// defined twice across paths are found. Positions are reported with the path as the
// user gave it, so editors can jump to them.
func validatePaths(paths []string) validateResult {
	var files []api.File
	var errs []api.FieldError
	for _, p := range paths {
		fs, lerrs := api.LoadDir(p)
		for i := range fs {
			fs[i].Path = displayPath(p, fs[i].Path)
		}
		for i := range lerrs {
			lerrs[i].Pos.File = displayPath(p, lerrs[i].Pos.File)
		}
		files = append(files, fs...)
		errs = append(errs, lerrs...)
	}
	m, derrs := api.Decode(files)
	errs = append(errs, derrs...)
	if errs == nil {
		errs = []api.FieldError{}
	}
	return validateResult{
		Valid:   len(errs) == 0,
		Files:   len(files),
		Objects: len(m.Pods) + len(m.Services) + len(m.ReplicationControllers),
		Errors:  errs,
	}
}

// displayPath joins a path relative to a validate argument back onto it.
func displayPath(arg, rel string) string {
	if info, err := os.Stat(arg); err == nil && !info.IsDir() {
		return arg
	}
	if rel == arg {
		return rel
	}
	return filepath.ToSlash(filepath.Join(arg, rel))
}

func (r validateResult) write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	for _, e := range r.Errors {
		if _, err := fmt.Fprintln(w, e.Error()); err != nil {
			return err
		}
	}
	if r.Valid {
		_, err := fmt.Fprintf(w, "valid: %d objects in %d files\n", r.Objects, r.Files)
		return err
	}
	return nil
}
