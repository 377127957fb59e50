package main

import (
	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/models"
)

// oneModel accepts one argument naming a model family, so that a typo is reported as
// such (with the nearest name) before any flag or file is looked at.
func oneModel(cmd *cobra.Command, args []string) error {
	if err := exactArgs(1, "one MODEL (see aigc models)")(cmd, args); err != nil {
		return err
	}
	if _, err := models.Lookup(args[0]); err != nil {
		return usageError{err}
	}
	return nil
}

// defaultIs makes --help show text as a flag's default where the value in the code only
// stands for it (-1: "the config's"), so help shows one default, in words.
func defaultIs(cmd *cobra.Command, flag, text string) {
	cmd.Flags().Lookup(flag).DefValue = text
}
